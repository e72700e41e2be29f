"""Block report: every score per block for each label column, with intervals, and the block to use."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from analysis.probes.logme import rank_agreement
from analysis.probes.report import SCORES, chance_notes
from analysis.probes.report_store import LABELS, best_mask, cached_block_report, long_table, summary_table
from dashboard.page_links import choice, flag, integer, items, numbers, url_state
from dashboard.state import guard, require_store
from dashboard.widgets import CAMERA, download_csv, fold_note, highlight, parse_ints, progress_bar

st.header("Block report")
sel, model, ds, store = require_store()
st.caption(f"{model.name} · {ds.name} · {store.n} images · {len(store.blocks)} blocks. Every block's pooled "
           "descriptors scored on the same folds and queries; 95 % bootstrap intervals in brackets; the best "
           "block per score is highlighted, but only where its interval is clear of chance (a score at chance "
           "shows nothing and is never marked best).")

columns = list(store.labels.columns)
url_state({"labels": items("rep_labels", columns), "folds": integer("rep_folds", 2, 10), "ks": numbers("rep_ks"),
           "queries": integer("rep_queries", 10, 5000), "boot": integer("rep_boot", 50, 5000),
           "clustering": flag("rep_clustering"), "linear": flag("rep_linear"),
           "score": choice("rep_primary", list(SCORES)), "seed": integer("rep_seed", 0, 10_000)})
with st.expander("Report settings", expanded=False):
    chosen = st.multiselect("Label columns", columns, default=columns, key="rep_labels")
    c1, c2, c3, c4 = st.columns(4)
    folds = c1.number_input("Folds (stratified CV)", 2, 10, 5, key="rep_folds")
    ks_text = c2.text_input("kNN k values", "1, 2, 4, 8, 16", key="rep_ks")
    queries = c3.number_input("Retrieval queries", 10, 5000, 500, step=50, key="rep_queries",
                              help="random query images for precision@10")
    boot = c4.number_input("Bootstrap resamples", 50, 5000, 1000, step=50, key="rep_boot")
    c5, c6, c7 = st.columns(3)
    clustering = c5.checkbox("UMAP + HDBSCAN (ARI, AMI, silhouette)", True, key="rep_clustering")
    linear = c6.checkbox("Linear probe (slower)", False, key="rep_linear")
    primary = c7.selectbox("Recommend by", list(SCORES), format_func=LABELS.get, key="rep_primary",
                           help="the score whose best block is recommended")
    seed = st.number_input("Random seed", 0, 10_000, 0, key="rep_seed")

if not chosen:
    st.info("Pick at least one label column in the report settings.")
    st.stop()


@st.cache_data(show_spinner=False, max_entries=32)
def report(key: str, label: str, settings: tuple, _store) -> dict:
    """Small result, cached per store key + settings; the disk cache makes it survive restarts."""
    with progress_bar(f"Block report for `{label}`") as update:
        r = cached_block_report(_store, label, progress=update, **dict(settings))
    return {"report": r}


with guard():
    settings = {"n_splits": int(folds), "ks": parse_ints(ks_text), "linear": linear, "clustering": clustering,
                "n_queries": int(min(queries, store.n)), "n_boot": int(boot), "primary": primary,
                "random_state": int(seed)}
    if primary in ("ari", "ami", "silhouette") and not clustering:
        st.warning(f"{LABELS[primary]} needs clustering: turned on for this report.")
        settings["clustering"] = True
    if primary == "linear" and not linear:
        settings["linear"] = True
    reports = [report(store.key, label, tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                                     for k, v in settings.items())), store)["report"]
               for label in chosen]

st.subheader("Recommendation")
for r in reports:
    (st.success if r.primary_above_chance else st.warning)(r.recommendation)
    for note in chance_notes(r):
        st.warning(note, icon="⚠️")

# The primary score over blocks, one line per label column: where each label peaks.
rows = []
for r in reports:
    t = r.table
    for block in t.index:
        v, lo, hi = t.loc[block, [primary, f"{primary}_low", f"{primary}_high"]]
        rows.append({"block": block, "label column": r.label, LABELS[primary]: v,
                     "plus": hi - v if pd.notna(hi) else None, "minus": v - lo if pd.notna(lo) else None})
peak = pd.DataFrame(rows)
fig = px.line(peak, x="block", y=LABELS[primary], color="label column", markers=True, error_y="plus",
              error_y_minus="minus", title=f"{LABELS[primary]} over blocks, per label column (95 % intervals)",
              height=360)
st.plotly_chart(fig, width="stretch", key="rep_peak")
c1, c2 = st.columns([1, 3])
with c1:
    download_csv(long_table(reports), f"block_report_{store.key}", "rep_dl_all", "⬇️ All numbers (CSV)", index=False)
c2.caption(CAMERA)

for r in reports:
    st.subheader(f"Label column `{r.label}`")
    fold_note(r.fold_message)
    display = summary_table(r, decimals=2)
    st.dataframe(highlight(display, best_mask(r, display)), width="stretch", key=f"rep_table_{r.label}")
    p = r.params
    st.caption(f"{p['n_splits']}-fold CV · kNN k ∈ {p['ks']} × euclidean/cosine (best shown) · "
               f"P@{p['retrieval_k']} over {p['n_queries']} queries · clustering: "
               f"{'UMAP-' + str(p['n_components']) + ' + HDBSCAN' if p['clustering'] else 'off'} · "
               f"{p['n_boot']} bootstrap resamples (ARI/AMI: {p['n_boot_clustering']}) · seed {p['random_state']}")
    if r.table["logme"].notna().any():
        rho = rank_agreement(r.table["logme"], r.table["knn"])
        st.caption(f"LogME (training-free) ranks the blocks with Spearman ρ = {rho:.2f} against kNN accuracy"
                   if np.isfinite(rho) else "LogME vs kNN rank correlation needs 3 or more blocks.")
    download_csv(long_table([r]), f"block_report_{r.label}", f"rep_dl_{r.label}", index=False)
    curve = []
    for s in SCORES:
        if s not in r.best or s == "logme":  # LogME is a log evidence, not on the 0..1 axis
            continue
        t = r.table
        curve += [{"block": b, "score": LABELS[s], "value": t.loc[b, s],
                   "plus": t.loc[b, f"{s}_high"] - t.loc[b, s], "minus": t.loc[b, s] - t.loc[b, f"{s}_low"]}
                  for b in t.index]
    fig = px.line(pd.DataFrame(curve), x="block", y="value", color="score", markers=True, error_y="plus",
                  error_y_minus="minus", title=f"Every score over blocks · {r.label}", height=380)
    fig.update_yaxes(title="score")
    st.plotly_chart(fig, width="stretch", key=f"rep_curve_{r.label}")

with st.expander("How to read this report"):
    st.markdown(
        "- **kNN / prototype / linear probe**: cross-validated accuracy of predicting the label from that block's "
        "descriptors (each image predicted once, by a model that never saw it). kNN shows its best k and metric.\n"
        "- **ARI / AMI**: agreement of HDBSCAN clusters (on a UMAP of the descriptors) with the labels; 0 = chance, "
        "1 = the clusters are the classes. **silhouette**: how compact those clusters are (no interval). "
        "**noise**: share of images HDBSCAN left unclustered.\n"
        "- **P@k**: of the k nearest images to a random query, the share with the query's label.\n"
        "- **LogME**: training-free transferability (You et al. 2021): the log evidence per image of a Bayesian "
        "linear model from the descriptors to each one-hot class, maximised over its two hyper-parameters. Higher "
        "is better; compare blocks and models on the same images, not datasets. No interval.\n"
        "- Intervals are 95 % percentile bootstrap over images (accuracies, ARI/AMI) or queries (P@k), "
        "conditional on the folds / clustering. Overlapping intervals: the blocks are not clearly different.\n"
        "- Pick the block where the score you care about peaks; a label about **colour** usually peaks earlier "
        "than a label about **texture / pattern**."
    )
