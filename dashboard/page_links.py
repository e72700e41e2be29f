"""Every view is a link: each page's controls live in the URL's query parameters.

A page binds its widget keys to parameter names once, before drawing the widgets:

    url_state({"block": block_param("acc_block", store), "k": integer("acc_k", 1, 50), "metric": choice("acc_metric", M)})

`url_state` puts a link's valid values into the widgets' session keys, names the invalid ones as
plain text (dashboard.query.warn_ignored, never markdown) and drops them from the address, then
writes the current values back, so copying the address reproduces the view.

A link is applied once: `begin_run` (called first on every run, by the sidebar) remembers which of
the address's values the app did not write itself (a link opened, followed or pasted, or the
back button); only those are applied, so later reruns keep what the user changes. Following a
link into another page applies all of its values (the page's widgets start afresh there).

The readers (`read_choice`, `read_list`, `read_int`) do not import Streamlit: tested directly.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_SENT = "_url_sent"  # {param: value} the app last wrote into the address
_NEW = "_url_new"    # {param: value} this run's address values the app did not write: a link to apply
_PAGE = "_url_page"  # the page of the last run: a new page applies every value of its link
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def read_choice(params: Mapping[str, str | None], key: str, allowed: Sequence[str], problems: list[str]) -> str | None:
    raw = params.get(key)
    if raw is None or str(raw) == "":
        return None
    if str(raw) not in allowed:
        problems.append(f"'{key}={raw}' is not one of {', '.join(map(str, allowed[:12]))}")
        return None
    return str(raw)


def read_list(params: Mapping[str, str | None], key: str, allowed: Sequence[str], problems: list[str]) -> list[str] | None:
    """Comma-separated choices; unknown entries are dropped with a note (None if nothing valid)."""
    raw = params.get(key)
    if raw is None or str(raw) == "":
        return None
    items = [s.strip() for s in str(raw).split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad:
        problems.append(f"'{key}': {', '.join(bad[:5])} not available")
    good = list(dict.fromkeys(s for s in items if s in allowed))
    return good or None


def _in_range(key: str, raw: str, parse: Callable[[str], Any], what: str, low, high, problems: list[str]):
    """parse(raw) if it parses and lies in low..high, else None with a sentence in problems."""
    try:
        value = parse(raw)
    except ValueError:
        problems.append(f"'{key}={raw}' is not {what}")
        return None
    if not low <= value <= high:
        problems.append(f"'{key}={value:g}' is outside {low:g}..{high:g}")
        return None
    return value


def read_int(params: Mapping[str, str | None], key: str, low: int, high: int, problems: list[str]) -> int | None:
    raw = params.get(key)
    if raw is None or str(raw).strip() == "":
        return None
    return _in_range(key, str(raw), lambda r: int(r.strip().lower().removeprefix("block").strip()),
                     "a whole number", low, high, problems)


# --------------------------------------------------------------------------------------------
# Bindings: widget session key <-> URL text
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bind:
    """One widget bound to one URL parameter: `read(name, raw, problems)` gives the widget value
    (None, with a sentence in problems, when invalid); `show(value)` gives the URL text."""

    key: str
    read: Callable[[str, str, list[str]], Any]
    show: Callable[[Any], str] = str


def choice(key: str, options: Sequence, show: Callable[[Any], str] = str) -> Bind:
    """A selectbox / radio / select_slider: the URL holds show(option)."""
    shown = [show(o) for o in options]

    def read(name: str, raw: str, problems: list[str]) -> Any:
        hit = read_choice({name: raw}, name, shown, problems)
        return None if hit is None else options[shown.index(hit)]
    return Bind(key, read, show)


def items(key: str, options: Sequence, show: Callable[[Any], str] = str) -> Bind:
    """A multiselect: comma-separated, unknown entries dropped with a note."""
    shown = [show(o) for o in options]

    def read(name: str, raw: str, problems: list[str]) -> Any:
        hit = read_list({name: raw}, name, shown, problems)
        return None if hit is None else [options[shown.index(s)] for s in hit]
    return Bind(key, read, lambda values: ",".join(show(v) for v in values))


def integer(key: str, low: int, high: int, shift: int = 0) -> Bind:
    """A whole number in low..high as written in the URL; the widget holds it + shift
    (e.g. shift=-1: a 1-based step in the URL, a 0-based index in the page)."""
    def read(name: str, raw: str, problems: list[str]) -> Any:
        v = read_int({name: raw}, name, low, high, problems)
        return None if v is None else v + shift
    return Bind(key, read, lambda v: str(int(v) - shift))


def number(key: str, low: float, high: float) -> Bind:
    """A decimal number in low..high (sliders)."""
    def read(name: str, raw: str, problems: list[str]) -> Any:
        return _in_range(name, raw, float, "a number", low, high, problems)
    return Bind(key, read, lambda v: f"{float(v):g}")


def flag(key: str) -> Bind:
    """A checkbox / toggle: 1 or 0 in the URL."""
    def read(name: str, raw: str, problems: list[str]) -> Any:
        text = raw.strip().lower()
        if text in TRUE + FALSE:
            return text in TRUE
        problems.append(f"'{name}={raw}' is not 1 or 0")
        return None
    return Bind(key, read, lambda v: "1" if v else "0")


def numbers(key: str, low: int = 1, high: int = 10_000) -> Bind:
    """A text field of whole numbers ("1, 4, 16"): checked here, so a bad link never reaches the
    page's own error message (which would render it as markdown)."""
    def read(name: str, raw: str, problems: list[str]) -> Any:
        parts = [p for p in re.split(r"[,\s;]+", raw.strip()) if p]
        if not parts or not all(p.isdigit() and low <= int(p) <= high for p in parts):
            problems.append(f"'{name}={raw}' is not a list of whole numbers in {low}..{high}")
            return None
        return ", ".join(str(v) for v in sorted({int(p) for p in parts}))
    return Bind(key, read, lambda text: ",".join(p for p in re.split(r"[,\s;]+", str(text).strip()) if p))


def block_param(key: str, store, bare: bool = False) -> Bind:
    """A block picker <-> the 1-based block number in the URL. Its options are
    widgets.block_select's 'name · C ch' (bare=True: the bare names of the layout pages' radio)."""
    names = [b.name if bare else f"{b.name} · {b.channels} ch" for b in store.blocks]
    return choice(key, names, show=lambda name: str(names.index(name) + 1))


# --------------------------------------------------------------------------------------------
# The address: which values are new, applying them, writing the current ones
# --------------------------------------------------------------------------------------------
def _page() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def begin_run() -> None:
    """Note which address values this run should apply: those the app did not write itself."""
    import streamlit as st

    sent = st.session_state.setdefault(_SENT, {})
    page = _page()
    if st.session_state.get(_PAGE) != page:  # another page: its widgets start afresh, apply the whole link
        st.session_state[_PAGE] = page
        sent.clear()
    qp = st.query_params
    st.session_state[_NEW] = {k: v for k in qp.keys() if (v := qp.get(k)) is not None and v != sent.get(k)}


def link_values(names: Iterable[str]) -> dict[str, str]:
    """This run's new address values among `names` (raw strings: validate, echo only via plain())."""
    import streamlit as st

    if _NEW not in st.session_state:
        begin_run()
    new = st.session_state[_NEW]
    return {n: new[n] for n in names if n in new}


def drop_param(name: str) -> None:
    """Remove an invalid value from the address (it is named once, then the default stands)."""
    import streamlit as st

    if name in st.query_params:
        del st.query_params[name]
    st.session_state.get(_NEW, {}).pop(name, None)


def url_state(spec: Mapping[str, Bind]) -> dict[str, Any]:
    """Bind widget keys to URL parameters (call before drawing the widgets): apply a new link's
    valid values, warn in plain text about the rest, write the current values back. Returns the
    values applied from the link, by parameter name."""
    import streamlit as st

    from dashboard.query import warn_ignored

    problems: list[str] = []
    applied: dict[str, Any] = {}
    for name, raw in link_values(spec).items():
        value = spec[name].read(name, raw, problems)
        if value is None:
            drop_param(name)
        else:
            st.session_state[spec[name].key] = applied[name] = value
    warn_ignored(problems)
    current = {}
    for name, b in spec.items():
        if b.key in st.session_state:
            try:
                current[name] = b.show(st.session_state[b.key])
            except (ValueError, TypeError):  # a value the options no longer hold: the page resets it
                continue
    write_url(current)
    return applied


SIDEBAR = ("model", "weights", "data", "label")  # the sidebar's parameters (dashboard.state.sidebar)


def sidebar_query() -> dict[str, str]:
    """The sidebar's model / weights / data in the address, to append to a permalink a page shows
    (its own parameters first; `label` is left to the page)."""
    import streamlit as st

    return {k: str(st.query_params[k]) for k in SIDEBAR[:3] if st.query_params.get(k)}


def write_url(values: Mapping[str, str | None]) -> None:
    """Keep the address in step with the controls, so copying it reproduces the view. An empty
    value removes the parameter (its default stands)."""
    import streamlit as st

    sent = st.session_state.setdefault(_SENT, {})
    for key, value in values.items():
        if value is None or value == "":
            if key in st.query_params:
                del st.query_params[key]
            sent.pop(key, None)
            continue
        if st.query_params.get(key) != value:
            st.query_params[key] = value
        sent[key] = value


def layout_url_state(page: str, store, sel_label: str, allow_clusters: bool) -> None:
    """The UMAP and GridCut pages' shared controls (block, colour, UMAP parameters) in the URL.
    Their widgets start from layouts_shared's shared dict, so a link's values go there too."""
    from analysis.probes.reduction import UMAP_METRICS
    from dashboard import layouts_shared as L

    colours = list(store.labels.columns) + ([L.CLUSTER] if allow_clusters else [])
    applied = url_state({
        "block": block_param(f"{page}_block", store, bare=True),
        "colour": choice(f"{page}_colour", colours, show=lambda c: "cluster" if c == L.CLUSTER else c),
        "n_neighbors": integer(f"{page}_n_neighbors", 2, 100), "min_dist": number(f"{page}_min_dist", 0.0, 0.99),
        "metric": choice(f"{page}_metric", list(UMAP_METRICS)), "seed": integer(f"{page}_seed", 0, 2**31 - 1)})
    L.shared().update(applied)
    if "colour" in applied:  # a colour from a link is not "the sidebar's label changed"
        L.shared()["sidebar_label"] = sel_label
