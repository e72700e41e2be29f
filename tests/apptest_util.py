"""Helpers for Streamlit AppTest: run a page of the real app with a chosen sidebar selection."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
SMALL = "garments (small demo, 200 images)"


def run_page(page: str | None = None, dataset: str = SMALL, timeout: float = 300, **state) -> AppTest:
    """Run the app (optionally switching to `page`, e.g. 'views/report.py') and return the AppTest."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state["dataset"] = dataset
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def ensure_small_store():
    """Descriptors of the 200-image demo set under the built-in model (computed once, cached)."""
    from analysis.data.datasets import open_dataset
    from analysis.descriptors.extract import extract
    from analysis.models.model import load_model

    return extract(load_model("efficientnet_lite0"), open_dataset("garments:n=200"))


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [str(e.value) for e in at.exception]


def plotly_specs(at: AppTest) -> list[dict]:
    """Plotly charts come back as UnknownElement: return their JSON specs."""
    import json

    out = []
    for el in at.get("plotly_chart"):
        spec = getattr(el, "proto", None)
        if spec is not None and getattr(spec, "spec", None):
            out.append(json.loads(spec.spec))
    return out
