"""Seconds until each page (and each Tour step) has finished running, in real Chromium against run.sh.

    python -m benchmarks.pages              # start `bash run.sh` (setup, precompute --warm, app), then measure
    python -m benchmarks.pages --url URL    # measure an app that is already running
    python -m benchmarks.pages --rounds 3   # more warm visits per page (median printed)
(run from the repository root: it reuses tests/browser.py's way of starting run.sh and Chromium)

cold = the first visit of the page after the server started (a fresh browser tab, so a fresh
session; run.sh's `precompute --warm` filled the disk caches and `app --warm` ran every page once
in the server process before it answered, so its in-memory caches hold the defaults); warm = later visits in new tabs (what every next student gets). Pages are visited in
navigation order; warm rounds visit them A B C ... A B C ... (interleaved), medians quoted.
"Finished" = the page's header is shown and Streamlit's running indicator is gone; charts may
take a few more frames to paint (not counted). Prints one line per page and a summary.
"""
from __future__ import annotations

import argparse
import re
import statistics
import time

from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

# (url path, text that is on the page once it has run: near its end). Compare and CKA open on the
# built-in lite0 vs lite1; without lite1's descriptors they show what is cached and a Compute button.
PAGES: list[tuple[str, str | re.Pattern]] = [
    ("tour", "Step 1 of 5"), ("data_model", "Data & model"), ("report", "Recommendation"),
    ("accuracy", "Accuracy"), ("clustering", "Each cluster's images"), ("distances", "Distances"),
    ("retrieval", "Retrieval"), ("profiles", "Open a top channel"), ("new_class", "Add a class"),
    ("memory", "Add a class without retraining"), ("flags", "A flag is a reason to look"),
    ("heads", re.compile("Training takes a while|triplet_silhouette")),
    ("compare", re.compile("Compute descriptors for|Cost per model")), ("cka", "CKA is invariant"),
    ("umap_view", "All blocks side by side"), ("gridcut", "Neighbourhood preservation"),
    ("channels", "Channel explorer"), ("unit_card", "Top "),
]
TOUR_STEPS = 5


def finished(page, text: str | re.Pattern, timeout_ms: int) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def visit(browser, url: str, path: str, text: str | re.Pattern, timeout_ms: int) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    t0 = time.perf_counter()
    page.goto(f"{url}/{path}")
    try:
        finished(page, text, timeout_ms)
        seconds = time.perf_counter() - t0
        print(f"  {path}: {seconds:.2f} s", flush=True)  # as it goes: a partial run still tells something
        return seconds
    except Exception as exc:  # noqa: BLE001 - a page that never finishes is a figure (nan), not the end of the run
        print(f"  {path}: did not finish ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})", flush=True)
        return float("nan")
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
    except Exception as exc:  # noqa: BLE001 - the steps not reached count as nan
        print(f"  tour step {len(out) + 1}: did not finish ({type(exc).__name__})", flush=True)
    finally:
        page.close()
    return out + [float("nan")] * (TOUR_STEPS - len(out))


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
        print(f"run.sh: app answering after {time.perf_counter() - t0:.0f} s (setup + precompute --warm + app --warm)")
        for line in (ARTIFACTS / "app.log").read_text(errors="replace").splitlines():
            if line.startswith("warm:"):  # what each warm-up took (precompute's disk caches, the server's pages)
                print(f"  {line}")
    timeout_ms = int(args.timeout * 1000)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Chromium's own first page (process and profile start-up) is not the app's: pay it on the
            # health endpoint, which starts no Streamlit session.
            browser.new_page().goto(f"{url}/_stcore/health")
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
    done = [v for v in all_cold if v == v]  # nan: did not finish
    print(f"\ncold: max {max(done, default=float('nan')):.2f} s, median "
          f"{statistics.median(done) if done else float('nan'):.2f} s; {sum(v < 3 for v in done)} of "
          f"{len(all_cold)} first visits under 3 s ({len(all_cold) - len(done)} did not finish)")


if __name__ == "__main__":
    main()
