"""AppTest of every "Which block?" page on the 200-image demo set (and a tiny CSV set for small classes)."""
import base64
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.apptest_util import ensure_small_store, errors, plotly_specs, run_page

BLOCKS = [f"block {i}" for i in range(1, 6)]


@pytest.fixture(scope="module", autouse=True)
def demo_store():
    return ensure_small_store()


def arr(v):
    """A plotly JSON array: a plain list, or plotly's typed array {dtype, bdata, shape}."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape([int(s) for s in str(v.get("shape", len(a))).split(",")])
    return np.asarray(v)


def titles(at):
    return [s.get("layout", {}).get("title", {}).get("text", "") for s in plotly_specs(at)]


def downloads(at):
    return [d for d in at.get("download_button")]


def test_block_report_tables_recommendations_and_curves():
    at = run_page("views/report.py", rep_labels=["colour", "pattern"], rep_boot=200)
    assert not errors(at)
    assert [h.value for h in at.header] == ["Block report"]
    subs = [s.value for s in at.subheader]
    assert "Label column `colour`" in subs and "Label column `pattern`" in subs
    recs = [s.value for s in at.success]
    assert len(recs) == 2 and recs[0].startswith("for `colour` use block ") and "kNN" in recs[0] and "±" in recs[0]
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2
    for t in tables:
        assert list(t.index) == BLOCKS
        assert {"kNN", "prototype eucl.", "ARI", "AMI", "silhouette", "P@10"} <= set(t.columns)
        assert t["kNN"].str.match(r"^[01]\.\d{2} \[[01]\.\d{2}, [01]\.\d{2}\]$").all()  # value [low, high]
    t = titles(at)
    assert any("over blocks, per label column" in x for x in t)
    assert sum("Every score over blocks" in x for x in t) == 2
    spec = plotly_specs(at)[0]
    assert {tr["name"] for tr in spec["data"]} == {"colour", "pattern"} and list(arr(spec["data"][0]["x"])) == BLOCKS
    assert len(downloads(at)) == 3  # all numbers + one per label column
    assert any("camera" in c.value for c in at.caption)


def test_report_setting_changes_are_shown_and_bad_k_is_an_error_not_a_traceback():
    at = run_page("views/report.py", rep_labels=["pattern"], rep_ks="1, two")
    assert not at.exception
    assert any("whole numbers" in e.value for e in at.error)


def test_accuracy_page_curves_confusion_and_reduced_space():
    at = run_page("views/accuracy.py", acc_ks="1, 4, 8", acc_umap_on=True, acc_dims=[2, 8], label="pattern")
    assert not errors(at)
    assert [s.value for s in at.subheader] == ["Accuracy over blocks", "One block in detail",
                                               "kNN in a UMAP-reduced space"]
    wide = at.dataframe[0].value
    assert list(wide.index) == BLOCKS and list(wide.columns) == ["prototype", "kNN k=1", "kNN k=4", "kNN k=8"]
    assert ((wide >= 0) & (wide <= 1)).all().all()
    specs = {s["layout"]["title"]["text"]: s for s in plotly_specs(at)}
    conf = next(s for t, s in specs.items() if t.startswith("Confusion"))
    z = arr(conf["data"][0]["z"])
    assert z.shape == (10, 10) and z.sum() == 200  # every image predicted once
    assert any(t.startswith("Per-class accuracy") for t in specs)
    umap = next(s for t, s in specs.items() if "after UMAP" in t)
    assert sorted(arr(umap["data"][0]["x"]).tolist()) == [2, 8]
    assert not at.warning  # 5 folds fit the demo's classes


def test_accuracy_page_cosine_and_linear_probe():
    at = run_page("views/accuracy.py", acc_metric="cosine", acc_linear=True, acc_ks="1, 16")
    assert not errors(at)
    assert "linear probe" in at.dataframe[0].value.columns
    assert any("(cosine;" in t for t in titles(at))


def test_clustering_page_scores_per_block_and_contingency():
    at = run_page("views/clustering.py")
    assert not errors(at)
    table = at.dataframe[0].value
    assert list(table.index) == BLOCKS
    assert {"ARI", "AMI", "silhouette", "noise fraction", "clusters"} <= set(table.columns)
    assert table["ARI"].between(-1, 1).all() and table["noise fraction"].between(0, 1).all()
    t = titles(at)
    assert any(x.startswith("HDBSCAN on UMAP-5") for x in t) and any("Images per class" in x for x in t)


def test_clustering_page_with_pca_colours_by_label_and_warns_when_a_score_shows_nothing():
    at = run_page("views/clustering.py", clu_reducer="pca", clu_dims=3, label="colour")
    assert not errors(at)
    assert any(x.startswith("HDBSCAN on PCA-3") for x in titles(at))
    scatter = next(s for s in plotly_specs(at) if s["layout"]["title"]["text"].startswith("block "))
    colours = {tr["name"]: tr["marker"]["color"] for tr in scatter["data"]}
    assert colours["red"] == "rgb(255,0,0)" and colours["blue"] == "rgb(0,0,255)"
    imgs = at.get("image")
    assert imgs and len(imgs[-1].proto.imgs) >= 1  # the gallery of the chosen cluster
    # A min cluster size above the data size: HDBSCAN leaves everything as noise -> said in words.
    at.number_input(key="clu_mcs").set_value(5000).run()
    assert not errors(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "left every image as noise on block 1, block 2" in warnings
    assert "ARI shows nothing" in warnings and "AMI shows nothing" in warnings
    assert (at.dataframe[0].value["clusters"] == 0).all()


def test_distances_page_histograms_in_original_and_umap_spaces():
    at = run_page("views/distances.py", dist_dims=[2, 4], dist_pairs=500)
    assert not errors(at)
    summary = at.dataframe[0].value
    assert list(summary["space"]) == ["original", "UMAP-2", "UMAP-4"]
    assert summary["overlap"].between(0, 1).all() and summary["auc"].between(0, 1).all()
    hist = plotly_specs(at)[0]
    assert len(hist["data"]) == 6 and {d["name"] for d in hist["data"]} == {"same class", "different class"}
    per_block = plotly_specs(at)[1]
    assert list(arr(per_block["data"][0]["x"])) == BLOCKS


def test_retrieval_page_precision_and_thumbnail_rows_for_a_dataset_query():
    at = run_page("views/retrieval.py", ret_query=3)
    assert not errors(at)
    assert at.metric[0].label.startswith("precision@10")
    assert 0 <= float(at.metric[0].value) <= 1
    text = " ".join(m.value for m in at.markdown)
    assert "Query #3" in text and "Nearest by block" in text and "Combined" in text
    imgs = at.get("image")
    assert sum(len(i.proto.imgs) for i in imgs) >= 1 + 3 * 8  # query + three rows of 8 thumbnails
    comb = at.table[0].value  # a static table (no data grid to load in the browser)
    assert len(comb) == 3 and comb.iloc[:, -1].between(0, 1).all()


def test_retrieval_page_uploaded_query_is_embedded_and_ranked(demo_store):
    at = run_page("views/retrieval.py", ret_source="upload an image")
    assert not errors(at)
    assert any("Upload an image" in i.value for i in at.info)
    data = open(demo_store.paths[5], "rb").read()
    at.file_uploader[0].set_value(("my_shirt.png", data, "image/png"))
    at.run()
    assert not errors(at)
    assert any("Uploaded image" in m.value for m in at.markdown)
    assert sum(len(i.proto.imgs) for i in at.get("image")) >= 1 + 3 * 8


def test_profiles_page_heatmap_of_top_channels_links_to_unit_cards_and_colour_lines():
    at = run_page("views/profiles.py", prof_quantile=0.5, label="colour")
    assert not errors(at)
    heat, lines_spec = plotly_specs(at)[:2]
    hm = heat["data"][0]
    assert hm["type"] == "heatmap" and len(hm["y"]) == 10  # one row per colour class
    assert 3 <= len(hm["x"]) <= 30 and all(x.startswith("ch ") for x in hm["x"])  # top 3 per class, union
    links = at.get("page_link")
    assert len(links) == 30 and all("unit_card" in pl.proto.page for pl in links)
    assert all(pl.proto.query_string.startswith("block=3&channel=") for pl in links)
    lines = {d["name"].split(" ")[0]: d["line"]["color"] for d in lines_spec["data"] if d.get("mode") == "lines"}
    assert len(lines) == 10 and lines["red"] == "rgb(255,0,0)" and lines["grey"] == "rgb(128,128,128)"
    top = at.dataframe[0].value
    assert len(top) == 10 and list(top.columns) == ["#1", "#2", "#3"]


def test_new_class_page_classifies_with_an_added_class():
    at = run_page("views/new_class.py", label="pattern")
    assert not errors(at)
    table = at.dataframe[0].value
    assert list(table.columns) == ["image", "true", "prototype", "kNN"] and len(table) == 8
    assert (table["true"] == "new argyle").sum() == 4  # the held-out class's test images
    assert "new argyle" in set(table["prototype"]) | set(table["kNN"])
    assert at.success and "correct" in at.success[0].value
    # Examples are picked on thumbnails of one class at a time, not in a list of every image.
    boxes = [cb for cb in at.checkbox if cb.key.startswith("new_rows_Examples")]
    assert 1 <= len(boxes) <= 24 and sum(cb.value for cb in boxes) == 5
    off = next(cb for cb in boxes if not cb.value) if any(not cb.value for cb in boxes) else None
    if off is not None:
        off.check().run()
        assert not errors(at)
        assert "+ **6 examples**" in " ".join(m.value for m in at.markdown)


@pytest.fixture(scope="module")
def tiny_class_csv(tmp_path_factory, demo_store):
    """A CSV data set whose class 'tiny' has 3 images: fewer than the 5 folds asked for."""
    root = tmp_path_factory.mktemp("tiny")
    labels = demo_store.labels["colour"]
    rows = []
    for cls, n in (("red", 8), ("blue", 8), ("green", 3)):
        for i in labels.index[labels == cls][:n]:
            name = f"img{i}.png"
            shutil.copy(demo_store.paths[i], root / name)
            rows.append({"path": name, "colour": "tiny" if cls == "green" else cls})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    from analysis.data.datasets import open_dataset
    from analysis.descriptors.extract import extract
    from analysis.models.model import load_model

    extract(load_model("efficientnet_lite0"), open_dataset(str(root / "labels.csv")))
    return str(root / "labels.csv")


def test_small_class_message_is_said_on_the_accuracy_page(tiny_class_csv):
    at = run_page("views/accuracy.py", dataset="image folder or CSV…", data_path=tiny_class_csv)
    assert not errors(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "'tiny'" in warnings and "fewer than the 5 folds" in warnings and "3 folds are used" in warnings
    assert "k = 16 left out" in warnings  # smallest training fold is 12 images
    assert list(at.dataframe[0].value.index) == BLOCKS


def test_small_class_message_is_said_on_the_report(tiny_class_csv):
    at = run_page("views/report.py", dataset="image folder or CSV…", data_path=tiny_class_csv,
                  rep_clustering=False, rep_boot=100)
    assert not errors(at)
    assert any("3 folds are used" in w.value for w in at.warning)
    assert at.success[0].value.startswith("for `colour` use block")
