"""LayerScope: `streamlit run dashboard/app.py`. Navigation + the shared sidebar."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.state import sidebar

st.set_page_config(page_title="LayerScope", page_icon="🔬", layout="wide")

HERE = Path(__file__).resolve().parent
# One page per view family; a section appears as soon as its file exists.
PAGES: dict[str, list[tuple[str, str, str]]] = {
    "Start": [("views/tour.py", "Tour", "🧭"), ("views/data_model.py", "Data & model", "🗂️")],
    "Which block?": [
        ("views/report.py", "Block report", "🏁"),
        ("views/accuracy.py", "Accuracy explorer", "🎯"),
        ("views/clustering.py", "Clustering", "🧩"),
        ("views/distances.py", "Distances", "📏"),
        ("views/retrieval.py", "Retrieval", "🔎"),
        ("views/profiles.py", "Class profiles", "📈"),
        ("views/new_class.py", "Add a class", "➕"),
        ("views/memory.py", "kNN memory", "🧠"),
        ("views/flags.py", "Label-noise flags", "🚩"),
        ("views/heads.py", "Trained heads", "🏋️"),
    ],
    "Which model?": [("views/compare.py", "Compare models", "⚖️"), ("views/cka.py", "CKA", "🟰")],
    "Layouts": [("views/umap_view.py", "UMAP", "🗺️"), ("views/gridcut.py", "GridCut", "🧱")],
    "Inside a block": [("views/channels.py", "Channel explorer", "🔬"), ("views/unit_card.py", "Unit card", "🃏")],
}

nav = {
    section: [st.Page(path, title=title, icon=icon, default=(path == "views/data_model.py"))
              for path, title, icon in items if (HERE / path).is_file()]
    for section, items in PAGES.items()
}
# expanded: every page stays listed (collapsed, the sidebar hides all but 10 behind "View more").
page = st.navigation({k: v for k, v in nav.items() if v}, expanded=True)
st.sidebar.title("🔬 LayerScope")
st.session_state["selection"] = sidebar()
page.run()
