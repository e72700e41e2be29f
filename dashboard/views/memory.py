"""kNN memory: the training split's descriptors as a class memory — kNN, class means, head prototypes,
and adding a class without retraining (measured). Works on the dataset or a synthetic million-row store."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.descriptors.index import EXACT_MAX, KINDS, store_index
from analysis.descriptors.synthetic import synthetic_entry, synthetic_store
from analysis.probes.memory import add_class, head_prototypes, memory_experiment, split_memory
from dashboard.page_links import block_param, choice, integer, number, numbers, url_state
from dashboard.state import guard, require_store
from dashboard.widgets import block_select, download_csv, parse_ints, progress_bar

st.header("kNN memory")
st.caption("The memory is the training split's descriptors at one block with their labels; the held-out split "
           "is classified by a k-nearest-neighbour vote, by the nearest class mean, and — for a model whose linear "
           f"head reads this block — by the head's weight rows as prototypes. Above {EXACT_MAX:,} memory rows the "
           "neighbours come from a faiss IVF-PQ index with exact re-ranking (built once, kept in the cache).")

SYNTHETIC = "synthetic clustered descriptors (ImageNet scale)"
SHORT = {"the selected dataset": "dataset", SYNTHETIC: "synthetic"}  # ?source= names
url_state({"source": choice("mem_source", list(SHORT), show=SHORT.get),
           "rows": choice("mem_syn_n", [20_000, 200_000, 1_000_000]), "channels": choice("mem_syn_d", [512, 256])})
source = st.radio("Memory of", ["the selected dataset", SYNTHETIC], horizontal=True, key="mem_source")
model = None
if source == SYNTHETIC:
    c1, c2 = st.columns(2)
    n = c1.selectbox("Rows", [20_000, 200_000, 1_000_000], key="mem_syn_n", format_func=lambda v: f"{v:,}")
    d = c2.selectbox("Channels", [512, 256], key="mem_syn_d")
    if not synthetic_entry(n, d).is_dir():
        st.info(f"{n:,} × {d} synthetic rows (1000 classes, {n * d * 4 / 2**30:.2f} GB float32) are not made yet: "
                "about a minute per million rows, once; or `layerscope memory --synthetic N`.")
        if not st.button("Generate them", key="mem_syn_go"):
            st.stop()
    with guard(), progress_bar("Generating synthetic descriptors") as bar:
        store = synthetic_store(n, d, progress=bar)
    label = "class"
else:
    sel, model, ds, store = require_store()
    label = sel.label

url_state({"block": block_param("mem_block", store), "metric": choice("mem_metric", ["cosine", "euclidean"]),
           "votes": choice("mem_votes", ["distance", "uniform"]), "search": choice("mem_kind", KINDS),
           "ks": numbers("mem_ks"), "test": number("mem_test", 0.1, 0.5), "max": integer("mem_maxq", 100, 50_000)})
c1, c2, c3, c4 = st.columns(4)
with c1:
    block = block_select(store, "Block", "mem_block", default=len(store.blocks))
metric = c2.radio("Distance", ["cosine", "euclidean"], horizontal=True, key="mem_metric")
votes = c3.radio("kNN votes", ["distance", "uniform"], horizontal=True, key="mem_votes",
                 help="distance: each neighbour votes 1/distance (sklearn's weights='distance'); uniform: 1 each")
kind = c4.selectbox("Neighbour search", KINDS, key="mem_kind",
                    help=f"auto: exact up to {EXACT_MAX:,} memory rows, IVF-PQ + exact re-rank above")
c5, c6, c7 = st.columns(3)
ks_text = c5.text_input("k values", "1, 5, 20", key="mem_ks")
test_size = c6.slider("Held-out share of each class", 0.1, 0.5, 0.2, 0.05, key="mem_test")
max_q = c7.number_input("Held-out images scored (at most)", 100, 50_000, 2000, 100, key="mem_maxq")
with guard():
    ks = parse_ints(ks_text)
y = store.labels[label].astype(str).to_numpy()


@st.cache_data(show_spinner=False, max_entries=16)
def experiment(key: str, label: str, block: int, metric: str, votes: str, kind: str, ks: tuple, test_size: float,
               max_q: int, model_name: str | None, _store, _model) -> dict:
    X = _store.descriptors(block)
    yy = _store.labels[label].astype(str).to_numpy()
    train, _ = split_memory(yy, test_size, 0)
    with progress_bar("Building the neighbour index (once per block and split)") as bar:
        index = store_index(_store, block, metric, kind, rows=train, progress=bar)
    head = head_prototypes(_model, X.shape[1]) if _model is not None else None
    r = memory_experiment(X, yy, ks=ks, weights=votes, metric=metric, head=head, test_size=test_size,
                          max_queries=max_q, index=index)
    return {"table": r.table, "engine": r.engine, "notes": r.notes, "n_memory": len(r.memory_rows),
            "n_test": len(r.test_rows), "classes": len(r.classes)}


with guard():
    res = experiment(store.key, label, block, metric, votes, kind, tuple(ks), float(test_size), int(max_q),
                     None if model is None else model.name, store, model)
t: pd.DataFrame = res["table"]
st.markdown(f"**Memory:** {res['n_memory']:,} images of {res['classes']} classes · **scored:** {res['n_test']:,} "
            f"held-out images · **neighbours:** {res['engine']}")
names = [f"{c} k={int(k)}" if pd.notna(k) else c for c, k in zip(t.classifier, t.k)]
fig = go.Figure([go.Bar(name=m, x=names, y=t[m.replace("-", "")], text=[f"{v:.2f}" for v in t[m.replace("-", "")]])
                 for m in ("top-1", "top-5")])
fig.update_layout(title=f"Held-out accuracy · block {block} · {label}", barmode="group", yaxis_range=[0, 1.05],
                  yaxis_title="accuracy", height=380, margin={"t": 50, "b": 40})
st.plotly_chart(fig, width="stretch")
st.dataframe(t, hide_index=True, width="stretch",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("top1", "top5")})
download_csv(t, f"memory_block{block}_{label}", key="mem_csv", index=False)
for note in res["notes"]:
    st.caption(note)

st.subheader("Add a class without retraining")
st.caption("One class is taken out of the memory, then a few of its memory images are added back. The old "
           "classes' held-out accuracy is measured before and after: nothing is retrained, so an old image can "
           "only change its answer by now being nearer to the new class.")
classes = sorted(set(y))
url_state({"add": choice(f"mem_new_{label}", classes), "shots": integer("mem_shots", 1, 100),
           "add_k": integer("mem_add_k", 1, 50)})
a1, a2, a3 = st.columns(3)
new = a1.selectbox("Class to add", classes, key=f"mem_new_{label}")
shots = a2.number_input("Images added", 1, 100, 5, key="mem_shots")
add_k = a3.number_input("k for the kNN", 1, 50, 5, key="mem_add_k")
large = len(y) > EXACT_MAX
go_add = st.checkbox("Measure it", value=not large, key="mem_add_go",
                     help="builds two memories (without and with the class); minutes at a million rows")


@st.cache_data(show_spinner="Measuring old and new classes…", max_entries=16)
def adding(key: str, label: str, block: int, new: str, shots: int, k: int, metric: str, votes: str, kind: str,
           test_size: float, _store) -> pd.DataFrame:
    yy = _store.labels[label].astype(str).to_numpy()
    return add_class(_store.descriptors(block), yy, new, shots=shots, k=k, weights=votes, metric=metric,
                     test_size=test_size, index_kind=kind).table


if go_add:
    with guard():
        a = adding(store.key, label, block, new, int(shots), int(add_k), metric, votes, kind, float(test_size), store)
    fig = go.Figure([go.Bar(name=col, x=a.classifier, y=a[col], text=[f"{v:.3f}" for v in a[col]])
                     for col in ("old classes before", "old classes after", "new class top-1")])
    fig.update_layout(title=f"Adding `{new}` from {int(shots)} images", barmode="group", yaxis_range=[0, 1.05],
                      height=340, margin={"t": 50, "b": 40})
    st.plotly_chart(fig, width="stretch")
    st.dataframe(a, hide_index=True, width="stretch")
