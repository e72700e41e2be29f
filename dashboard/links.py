"""Page addresses: the unit card's and the channel explorer's URL query parameters.

Parsing what a browser sends is the dashboard's job, never the library's: values arrive as
strings; anything invalid becomes None with a sentence in `problems`, which the page shows
while it keeps its defaults.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class UnitLink:
    """A unit card address read from URL query parameters; `problems` says what was ignored."""

    block: int | None
    channel: int | None
    label: str | None
    problems: list[str]


def parse_unit_link(params: dict, channels_per_block: Sequence[int], label_columns: Sequence[str]) -> UnitLink:
    """Read {"block": "3", "channel": "17", "label": "colour"} (strings, as in a URL).

    Blocks are 1-based ("block 3" -> 3 also accepted); channels 0-based. Anything missing is None;
    anything invalid is None with a sentence in `problems` (a page shows it and keeps its defaults).
    """
    problems: list[str] = []
    n = len(channels_per_block)

    def as_int(key: str) -> int | None:
        raw = params.get(key)
        if raw is None or str(raw).strip() == "":
            return None
        text = str(raw).strip().lower().removeprefix("block").strip()
        try:
            return int(text)
        except ValueError:
            problems.append(f"'{key}={raw}' is not a whole number")
            return None

    block = as_int("block")
    if block is not None and not 1 <= block <= n:
        problems.append(f"block {block} does not exist (1..{n})")
        block = None
    channel = as_int("channel")
    if channel is not None:
        limit = channels_per_block[(block or n) - 1] if block is not None else max(channels_per_block)
        if not 0 <= channel < limit:
            where = f"block {block}" if block is not None else "any block"
            problems.append(f"channel {channel} does not exist in {where} (0..{limit - 1})")
            channel = None
    label = params.get("label")
    label = None if label is None or str(label) == "" else str(label)
    if label is not None and label not in label_columns:
        problems.append(f"label column '{label}' is not in this dataset ({', '.join(label_columns)})")
        label = None
    return UnitLink(block, channel, label, problems)


def unit_query(block: int, channel: int, label: str | None) -> dict[str, str]:
    """The query parameters of a unit card (inverse of parse_unit_link)."""
    q = {"block": str(int(block)), "channel": str(int(channel))}
    if label:
        q["label"] = str(label)
    return q


@dataclass
class ExplorerLink:
    """A channel-explorer address read from query parameters (image, block, channel, view)."""

    image: int | None
    block: int | None
    channel: int | None
    view: str | None
    problems: list[str]


def parse_explorer_link(params: dict, n_images: int, channels_per_block: Sequence[int],
                        views: dict[str, str]) -> ExplorerLink:
    """Read {"image": "12", "block": "3", "channel": "5", "view": "masks"} (URL strings).

    `views` maps accepted short names (lower case) to tab labels; a tab label itself is accepted too.
    Invalid values become None with a sentence in `problems`."""
    unit = parse_unit_link({k: params.get(k) for k in ("block", "channel")}, channels_per_block, [])
    problems = list(unit.problems)
    image = None
    raw = params.get("image")
    if raw is not None and str(raw).strip() != "":
        try:
            image = int(str(raw).strip().lstrip("#"))
        except ValueError:
            problems.append(f"'image={raw}' is not a whole number")
        else:
            if not 0 <= image < n_images:
                problems.append(f"image {image} does not exist (0..{n_images - 1})")
                image = None
    view = None
    raw = params.get("view")
    if raw is not None and str(raw).strip() != "":
        text = str(raw).strip()
        labels = {v.lower(): v for v in views.values()}
        view = views.get(text.lower()) or labels.get(text.lower())
        if view is None:
            problems.append(f"view '{raw}' is not one of {', '.join(views)}")
    return ExplorerLink(image, unit.block, unit.channel, view, problems)
