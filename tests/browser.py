"""Real headless Chromium against the app started by the README's run command (run.sh)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--run-all-compositor-stages-before-draw"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(timeout: float = 900) -> tuple[subprocess.Popen, str]:
    """Start `bash run.sh` (setup + precompute + streamlit) and wait until the server answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("LAYERSCOPE_CACHE",)}  # the app's own cache
    env.update(PORT=str(port), ADDRESS="127.0.0.1")
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "app.log", "w")
    proc = subprocess.Popen(["bash", str(REPO / "run.sh")], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"run.sh exited with {proc.returncode}: see {ARTIFACTS / 'app.log'}")
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(1)
    stop_app(proc)
    raise RuntimeError("the app did not start in time")


def stop_app(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() and shutil.which("chromium") is not None


def wait_for_app(page, text: str, timeout_ms: int = 300_000) -> None:
    """Wait until `text` is shown and Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_timeout(1500)  # let plotly and images finish drawing
