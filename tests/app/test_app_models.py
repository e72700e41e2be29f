"""AppTest of the "Which model?" pages (Compare, CKA) and the Label-noise flags page, on a tiny
CSV copy of the built-in set (40 images) with lite0 and lite1 descriptors computed once."""
import base64

import numpy as np
import pytest

from tests.apptest_util import errors, plotly_specs, run_page

CSV = "image folder or CSV…"


@pytest.fixture(scope="module")
def tiny(small_garments):
    """The 40-image garments set opened through its labels.csv (inside the app's data root),
    with descriptors under lite0 and lite1."""
    from analysis.data.datasets import open_dataset
    from analysis.descriptors.extract import extract
    from analysis.models.model import load_model

    csv = small_garments.root / "labels.csv"
    assert csv.is_file()
    ds = open_dataset(str(csv))
    stores = {n: extract(load_model(n), ds, batch_size=20) for n in ("efficientnet_lite0", "efficientnet_lite1")}
    return str(csv), stores


def page(tiny, path, **state):
    csv, _ = tiny
    return run_page(path, dataset=CSV, data_path=csv, label="colour", **state)


def arr(v):
    """A plotly JSON array: a plain list, or plotly's typed array {dtype, bdata, shape}."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape([int(s) for s in str(v.get("shape", len(a))).split(",")])
    return np.asarray(v, dtype=float)


def titles(at):
    return [s.get("layout", {}).get("title", {}).get("text", "") for s in plotly_specs(at)]


def test_compare_page_draws_one_curve_per_model_and_names_the_best(tiny):
    at = page(tiny, "views/compare.py", cmp_models=["efficientnet_lite0", "efficientnet_lite1"],
              cmp_labels=["colour", "garment"])
    assert not errors(at), errors(at)
    specs = plotly_specs(at)
    assert len(specs) == 2
    assert {tr["name"] for tr in specs[0]["data"]} == {"efficientnet_lite0", "efficientnet_lite1"}
    assert "normalised depth" in titles(at)[0]
    best = [s.value for s in at.success]
    assert len(best) == 2 and best[0].startswith("Best for `colour` by kNN: **efficientnet_lite")
    cost, scores = (t.value for t in at.table)  # static tables (no data grid to load in the browser)
    assert list(cost["model"]) == ["efficientnet_lite0", "efficientnet_lite1"]
    assert (cost["img/s at extraction"] > 0).all()
    assert set(scores["model"]) == {"efficientnet_lite0", "efficientnet_lite1"}
    assert set(scores["label"]) == {"colour", "garment"} and scores["knn"].between(0, 1).all()
    assert any("Spearman" in c.value for c in at.caption)
    assert at.query_params["models"] == ["efficientnet_lite0,efficientnet_lite1"] or \
        at.query_params["models"] == "efficientnet_lite0,efficientnet_lite1"


def test_compare_page_needs_two_models(tiny):
    at = page(tiny, "views/compare.py", cmp_models=["efficientnet_lite0"])
    assert not errors(at)
    assert any("at least two models" in i.value for i in at.info)


def test_cka_page_heatmaps_within_and_between_models(tiny):
    at = page(tiny, "views/cka.py", cka_vs="efficientnet_lite1")
    assert not errors(at), errors(at)
    specs = plotly_specs(at)
    assert len(specs) == 2
    z = arr(specs[0]["data"][0]["z"])
    assert z.shape == (5, 5) and np.allclose(np.diag(z), 1.0) and np.allclose(z, z.T)
    assert "vs efficientnet_lite1" in titles(at)[1]


def test_flags_page_lists_suspicious_images_with_neighbours(tiny):
    at = page(tiny, "views/flags.py", flg_block=1, flg_k=3, flg_top=4)
    assert not errors(at), errors(at)
    flagged = [m.value for m in at.markdown if m.value.startswith("**#")]
    assert len(flagged) == 4 and all("neighbours say" in f for f in flagged)
    # Each flag with its 3 neighbours: one picture (captions drawn in it), described by its caption.
    pictures = [img for el in at.get("image") for img in el.proto.imgs]
    assert len(pictures) == 4
    for line, pic in zip(flagged, pictures):
        i = line.split("**")[1]  # "#12"
        assert pic.caption == f"{i} (flagged), then its 3 nearest neighbours at block 1, nearest first"


def test_bad_link_values_are_plain_text_notices_and_defaults(tiny):
    from streamlit.testing.v1 import AppTest

    from tests.apptest_util import APP

    csv, _ = tiny
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["dataset"] = CSV
    at.session_state["data_path"] = csv
    at.session_state["label"] = "colour"
    at.run()
    at.query_params["block"] = "[click](https://evil.example)"
    at.query_params["k"] = "999"
    at.query_params["by"] = "glosh"
    at.switch_page("views/flags.py")
    at.run()
    assert not errors(at), errors(at)
    notice = " ".join(w.value for w in at.warning)
    assert "ignored" in notice and "](https" not in notice and "\\[click\\]" in notice
    assert at.session_state["flg_block"] == 5 and at.session_state["flg_by"] == "glosh"


def test_heads_page_trains_on_request_and_says_whether_the_best_block_moves(tiny):
    at = page(tiny, "views/heads.py", hd_epochs=5)
    assert not errors(at), errors(at)
    assert any("Training takes a while" in i.value for i in at.info) and not at.success
    at.button[0].click().run()
    assert not errors(at), errors(at)
    (msg,) = [s.value for s in at.success]
    assert msg.startswith("Best training-free:") and "best block" in msg
    t = at.dataframe[0].value
    assert list(t.index) == [f"block {i}" for i in range(1, 6)] and {"mlp", "triplet_knn"} <= set(t.columns)
