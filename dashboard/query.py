"""URL query parameters are typed by whoever wrote the link: never render them as markdown.

`st.warning` / `st.markdown` render markdown, so a link such as `?block=[log in](https://evil…)`
would become a clickable link inside the app's own warning and `![x](https://…)` would make the
browser fetch an external image. Every echo of a URL value goes through :func:`plain`.
"""
from __future__ import annotations

import re

import streamlit as st

MAX_ECHO = 60  # characters of a URL value shown back; the rest is cut
# Every ASCII punctuation character can be backslash-escaped in CommonMark; escaping them all also
# neutralises HTML tags, so the text renders as typed (autolinks are broken below).
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
_ZWSP_BEFORE = re.compile(r"(\\[:.@])")


def plain(text: object, limit: int = MAX_ECHO) -> str:
    """`text` as markdown that renders literally: cut to `limit` characters, one line, every
    markdown / HTML / link character escaped."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[:limit] + "…"
    # GFM turns bare https://… and www.… into links even when escaped: a zero-width space before
    # every ':', '.' and '@' keeps the text readable but no address can form.
    return _ZWSP_BEFORE.sub("\u200b\\1", _PUNCT.sub(r"\\\1", s))


def param(name: str) -> str | None:
    """A query parameter's raw value (or None): validate it before use, echo it only via plain()."""
    value = st.query_params.get(name)
    return None if value is None else str(value)


def warn_ignored(problems: list[str]) -> None:
    """'Part of the link was ignored: …' with the problems (which quote URL values) as plain text."""
    if problems:
        # Each problem quotes one URL value and says why (e.g. the data-root message): room for both.
        st.warning("Part of the link was ignored: " + "; ".join(plain(p, 4 * MAX_ECHO) for p in problems) + ".")
