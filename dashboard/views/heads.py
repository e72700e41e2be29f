"""Trained heads: does a small MLP head or a triplet-loss projection move the best block, and by how much
does training beat the training-free kNN / prototypes?"""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from analysis.descriptors.results_cache import cached_json
from analysis.probes.heads import HeadSettings, heads_table
from dashboard.page_links import integer, url_state
from dashboard.state import guard, require_store
from dashboard.widgets import CAMERA, download_csv, progress_bar

NAMES = {"knn": "kNN (best k, metric)", "prototype": "prototype (eucl.)", "linear": "linear probe",
         "mlp": "MLP head", "triplet_knn": "triplet projection + kNN"}

st.header("Trained heads")
sel, model, ds, store = require_store()
label = sel.label
st.caption(f"For `{label}`, on the same 5 cross-validation folds: training-free kNN and prototypes against three "
           "heads trained on each training fold of the frozen descriptors — a linear probe, a one-hidden-layer MLP, "
           "and a linear projection trained with triplet loss (semi-hard mining) then scored by kNN and silhouette. "
           "Torch on the CPU; seconds to a minute per block.")
url_state({"epochs": integer("hd_epochs", 5, 300)})
st.session_state.setdefault("hd_epochs", 60)
epochs = int(st.number_input("Training epochs per fold", 5, 300, step=5, key="hd_epochs"))


def compute(progress) -> dict:
    r = heads_table({b.name: store.descriptors(b.index) for b in store.blocks}, store.labels[label].to_numpy(),
                    settings=HeadSettings(epochs=epochs), progress=progress)
    return {"table": r.table.reset_index().to_dict(orient="list"), "best_free": list(r.best_free),
            "best_trained": list(r.best_trained), "fold_message": r.fold_message}


parts = {"store": store.key, "label": label, "epochs": epochs, "settings": HeadSettings(epochs=epochs).__dict__, "v": 1}
if not st.session_state.get(f"hd_go_{store.key}_{label}_{epochs}") and not st.button("Train the heads", type="primary"):
    st.info("Training takes a while on a CPU (every block × 5 folds × 3 heads); results are kept on disk.")
    st.stop()
st.session_state[f"hd_go_{store.key}_{label}_{epochs}"] = True
with guard(), progress_bar("Training heads") as update:
    res = cached_json("heads", parts, lambda: compute(update))

table = pd.DataFrame(res["table"]).set_index("block")
free, trained = res["best_free"], res["best_trained"]
gain = trained[2] - free[2]
st.success(f"Best training-free: {NAMES[free[0]]} at {free[1]} ({free[2]:.3f}). Best trained: {NAMES[trained[0]]} at "
           f"{trained[1]} ({trained[2]:.3f}). Training gains {gain:+.3f} and "
           + ("**moves** the best block." if trained[1] != free[1] else "keeps the same best block."))
if res["fold_message"]:
    st.caption(res["fold_message"])
long = table[list(NAMES)].reset_index().melt(id_vars="block", var_name="method", value_name="accuracy")
long["method"] = long["method"].map(NAMES)
fig = px.line(long, x="block", y="accuracy", color="method", markers=True, height=380,
              title=f"Cross-validated accuracy per block · {label}")
st.plotly_chart(fig, width="stretch", key="hd_curve")
st.dataframe(table.style.format("{:.3f}"), width="stretch", key="hd_table")
download_csv(table, f"heads_{label}", "hd_dl")
st.caption("triplet_silhouette: silhouette of the held-out images in the learned space (mean over folds); "
           "raw_silhouette: of all images in the block's own space. " + CAMERA)
