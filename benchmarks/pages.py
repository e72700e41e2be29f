"""Seconds until each page (and each Tour step) has finished running, in real Chromium against run.sh.

    python -m benchmarks.pages              # start `bash run.sh` (setup, precompute --warm, app), then measure
    python -m benchmarks.pages --url URL    # measure an app that is already running
    python -m benchmarks.pages --rounds 3   # more warm visits per page (median printed)
(run from the repository root: it reuses tests/browser.py's way of starting run.sh and Chromium)

cold = the first visit of the page after the server started (a fresh browser tab, so a fresh
session; the process's in-memory caches are empty, the disk caches of `precompute --warm` are
there); warm = later visits in new tabs (what every next student gets). Pages are visited in
navigation order; warm rounds visit them A B C ... A B C ... (interleaved), medians quoted.
"Finished" = the page's header is shown and Streamlit's running indicator is gone; charts may
take a few more frames to paint (not counted). Prints one line per page and a summary.
"""
from __future__ import annotations

import argparse
import statistics
import time

from tests.browser import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

# (url path, text that is on the page once it has run)
PAGES = [
    ("tour", "Step 1 of 5"), ("data_model", "Data & model"), ("report", "Recommendation"),
    ("accuracy", "Accuracy"), ("clustering", "Each cluster's images"), ("distances", "Distances"),
    ("retrieval", "Retrieval"), ("profiles", "Open a top channel"), ("new_class", "Add a class"),
    ("umap_view", "All blocks side by side"), ("gridcut", "Neighbourhood preservation"),
    ("channels", "Channel explorer"), ("unit_card", "Top "),
]
TOUR_STEPS = 5


def finished(page, text: str, timeout_ms: int) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def visit(browser, url: str, path: str, text: str, timeout_ms: int) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    t0 = time.perf_counter()
    page.goto(f"{url}/{path}")
    try:
        finished(page, text, timeout_ms)
        seconds = time.perf_counter() - t0
        print(f"  {path}: {seconds:.2f} s", flush=True)  # as it goes: a partial run still tells something
        return seconds
    finally:
        page.close()


def tour_steps(browser, url: str, timeout_ms: int) -> list[float]:
    """Seconds per Tour step: step 1 from the URL, then each "Next →" click until it has run."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    out = []
    try:
        t0 = time.perf_counter()
        page.goto(f"{url}/tour")
        finished(page, "Step 1 of 5", timeout_ms)
        out.append(time.perf_counter() - t0)
        for k in range(2, TOUR_STEPS + 1):
            t0 = time.perf_counter()
            page.get_by_role("button", name="Next →").click()
            finished(page, f"Step {k} of {TOUR_STEPS}", timeout_ms)
            out.append(time.perf_counter() - t0)
    finally:
        page.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=None, help="an app already running (default: start run.sh)")
    ap.add_argument("--rounds", type=int, default=2, help="warm visits per page")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per page before giving up")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc = None
    url = args.url
    if url is None:
        t0 = time.perf_counter()
        proc, url = start_app()
        print(f"run.sh: app answering after {time.perf_counter() - t0:.0f} s (setup + precompute --warm + start)")
    timeout_ms = int(args.timeout * 1000)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cold = {path: visit(browser, url, path, text, timeout_ms) for path, text in PAGES}
            cold_tour = tour_steps(browser, url, timeout_ms)
            warm: dict[str, list[float]] = {path: [] for path, _ in PAGES}
            warm_tour: list[list[float]] = []
            for _ in range(args.rounds):  # interleaved: every page once per round
                for path, text in PAGES:
                    warm[path].append(visit(browser, url, path, text, timeout_ms))
                warm_tour.append(tour_steps(browser, url, timeout_ms))
            browser.close()
    finally:
        if proc is not None:
            stop_app(proc)
    print(f"\n{'page':<26}{'cold s':>8}{'warm s (median)':>18}")
    for path, _ in PAGES:
        print(f"{path:<26}{cold[path]:>8.2f}{statistics.median(warm[path]):>18.2f}")
    for k in range(TOUR_STEPS):
        med = statistics.median(r[k] for r in warm_tour)
        print(f"{'tour step ' + str(k + 1):<26}{cold_tour[k]:>8.2f}{med:>18.2f}")
    all_cold = list(cold.values()) + cold_tour
    print(f"\ncold: max {max(all_cold):.2f} s, median {statistics.median(all_cold):.2f} s; "
          f"{sum(v < 3 for v in all_cold)} of {len(all_cold)} first visits under 3 s")


if __name__ == "__main__":
    main()
