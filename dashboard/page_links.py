"""URL state of the Compare, CKA and Flags pages: typed values from query-parameter strings.

The browser sends strings typed by whoever wrote the link. Each reader returns a valid value or
None, adding a sentence to `problems` (shown as plain text by dashboard.query.warn_ignored, never
as markdown); the page then keeps its default. No Streamlit here, so it is tested directly.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence


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


def read_int(params: Mapping[str, str | None], key: str, low: int, high: int, problems: list[str]) -> int | None:
    raw = params.get(key)
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip().lower().removeprefix("block").strip()
    try:
        value = int(text)
    except ValueError:
        problems.append(f"'{key}={raw}' is not a whole number")
        return None
    if not low <= value <= high:
        problems.append(f"'{key}={value}' is outside {low}..{high}")
        return None
    return value


def apply_url_once(page: str, values: Mapping[str, object], problems: list[str]) -> None:
    """Put the link's valid values into the widgets' session keys, once per page per session (later
    reruns keep what the user changes); show what was ignored as plain text."""
    import streamlit as st

    from dashboard.query import warn_ignored

    flag = f"_url_applied_{page}"
    if st.session_state.get(flag):
        return
    st.session_state[flag] = True
    for key, value in values.items():
        if value is not None:
            st.session_state[key] = value
    warn_ignored(problems)


def write_url(values: Mapping[str, str]) -> None:
    """Keep the address in step with the controls, so copying it reproduces the view."""
    import streamlit as st

    for key, value in values.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
