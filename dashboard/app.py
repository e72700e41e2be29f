"""LayerScope: `streamlit run dashboard/app.py`. Navigation + the shared sidebar."""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.state import sidebar  # noqa: E402

st.set_page_config(page_title="LayerScope", page_icon="🔬", layout="wide")

HERE = Path(__file__).resolve().parent
# One page per view family; a section appears as soon as its file exists.
PAGES: dict[str, list[tuple[str, str, str]]] = {
    "Start": [("pages/data_model.py", "Data & model", "🗂️")],
    "Which block?": [
        ("pages/report.py", "Block report", "🏁"),
        ("pages/accuracy.py", "Accuracy explorer", "🎯"),
        ("pages/clustering.py", "Clustering", "🧩"),
        ("pages/distances.py", "Distances", "📏"),
        ("pages/retrieval.py", "Retrieval", "🔎"),
        ("pages/profiles.py", "Class profiles", "📈"),
        ("pages/new_class.py", "Add a class", "➕"),
    ],
    "Layouts": [("pages/umap_view.py", "UMAP", "🗺️"), ("pages/gridcut.py", "GridCut", "🧱")],
    "Inside a block": [("pages/channels.py", "Channel explorer", "🔬"), ("pages/unit_card.py", "Unit card", "🃏")],
}

nav = {
    section: [st.Page(path, title=title, icon=icon, default=(path == "pages/data_model.py"))
              for path, title, icon in items if (HERE / path).is_file()]
    for section, items in PAGES.items()
}
page = st.navigation({k: v for k, v in nav.items() if v})
st.sidebar.title("🔬 LayerScope")
st.session_state["selection"] = sidebar()
page.run()
