"""`layerscope app --warm`: run every page once in the server's own process, then serve.

Why in-process: the slow part of a first visit is not the results (`precompute --warm` keeps
them on disk) but what a fresh server process loads on first use — torch and the other heavy
imports, the model, the dataset, the memory-mapped store, numba's UMAP compilation, thumbnails,
maps and grids read into memory, each page's `st.cache_data` results. Those caches are
process-global (keyed by function and arguments, not by session), so running each page once
here, headless (Streamlit's own script runner, `streamlit.testing.v1.AppTest`), before the
server answers, leaves them filled for the first student.

Run as `python -m dashboard.serve [streamlit run options]`; `LAYERSCOPE_WARM_PAGES=0` skips the
warm-up. The warm-up runs before the server is started (AppTest swaps Streamlit's runtime
singleton while it runs, which a serving process must not see); a page that fails to warm is
reported and left cold, and the server starts anyway.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP = HERE / "app.py"
TOUR = "views/tour.py"
TOUR_STEPS = 5  # the Tour's steps: Next is clicked until the last one has run


def page_files() -> list[str]:
    """Every page of the app (one file per page under views/), the Tour first."""
    files = sorted(f"views/{p.name}" for p in (HERE / "views").glob("*.py") if not p.name.startswith("_"))
    return sorted(files, key=lambda f: f != TOUR)


class _Drop(logging.Filter):
    """Drops one known, misleading Streamlit warning (the warm-up runs pages without a server)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in str(record.msg)


# Pages run here outside a browser session ("missing ScriptRunContext"), and config parsed by the
# warm-up is parsed again with the server's flags ("restart streamlit": nothing was serving yet).
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
    _Drop("missing ScriptRunContext"))
logging.getLogger("streamlit.config").addFilter(_Drop("config option section was detected"))


def _problems(at) -> list[str]:
    return [str(e.value) for e in at.error] + [str(e.value) for e in at.exception]


def warm_pages(pages: list[str] | None = None, session_state: dict | None = None, timeout: float = 600,
               log: Callable[[str], None] = print) -> dict[str, float]:
    """Run each page once in this process, as a first visit does; seconds per page.

    Each page runs in its own fresh session with the sidebar's defaults (or `session_state`, e.g.
    {"dataset": ...}), as a new visitor's would; the Tour is walked to its last step. Problems are
    logged, never raised: a page left cold is still served."""
    from streamlit.testing.v1 import AppTest

    seconds: dict[str, float] = {}
    for page in page_files() if pages is None else pages:
        t0 = time.perf_counter()
        try:
            at = AppTest.from_file(str(APP), default_timeout=timeout)
            for k, v in (session_state or {}).items():
                at.session_state[k] = v
            # Straight to the page: a first run on the default page would run Data & model once per
            # warmed page. Pages keep their file-derived url paths, which is what AppTest matches
            # before a first run.
            at.switch_page(page).run()
            if page == TOUR:
                for _ in range(TOUR_STEPS - 1):
                    if not at.button(key="tour_next").disabled:
                        at.button(key="tour_next").click().run()
            problems = _problems(at)
        except Exception as exc:  # noqa: BLE001 - warming is best effort; the page still works cold
            problems = [f"{type(exc).__name__}: {exc}"]
        seconds[page] = time.perf_counter() - t0
        note = f" — left cold: {problems[0][:200]}" if problems else ""
        log(f"warm page {page} ({seconds[page]:.1f} s){note}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("LAYERSCOPE_WARM_PAGES", "1") != "0":
        t0 = time.perf_counter()
        warm_pages()
        print(f"warm: every page has run once in the server process ({time.perf_counter() - t0:.1f} s); "
              "starting the server", flush=True)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *args]
    cli.main()


if __name__ == "__main__":
    main()
