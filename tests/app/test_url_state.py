"""Every view is a link: the sidebar and each page read their controls from the URL, say in plain text
what they ignored, and keep the address in step with what is shown. Run on the 40-image built-in set."""
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_util import APP, errors

SPEC = "garments:n=40,size=128,seed=3"  # the small_garments fixture's set (its descriptors: small_store)
FOLDER = "image folder or CSV…"
IGNORED = "Part of the link was ignored"


@pytest.fixture(scope="module", autouse=True)
def store(small_store):
    return small_store


def qp(at, name):
    """A query parameter as the app left it (AppTest gives a value or a one-element list)."""
    v = at.query_params.get(name)
    return v[-1] if isinstance(v, list) else v


def open_link(page: str | None, params: dict, **state) -> AppTest:
    """A new session opened on `page` with `params` in its address (the app starts on its default page)."""
    at = AppTest.from_file(APP, default_timeout=300)
    for k, v in state.items():
        at.session_state[k] = v
    for k, v in params.items():
        at.query_params[k] = v
    if page:
        at.switch_page(page)
    at.run()
    return at


def notices(at) -> str:
    return " ".join(w.value for w in at.warning)


def no_link_can_form(text: str) -> bool:
    """Plain text as markdown: no unescaped bracket, parenthesis or angle bracket, hence no link,
    image or HTML tag (dashboard.query.plain escapes them all)."""
    return re.search(r"(?<!\\)[\[\]()<>]", text) is None


def test_a_link_opens_the_sidebar_and_the_page_with_its_values():
    at = open_link("views/accuracy.py", {"model": "efficientnet_lite0", "data": SPEC, "label": "pattern",
                                         "block": "2", "metric": "cosine", "ks": "4,1", "folds": "3"})
    assert not errors(at), errors(at)
    assert IGNORED not in notices(at), notices(at)
    assert at.session_state["dataset"] == FOLDER and at.session_state["data_path"] == SPEC
    assert at.selectbox(key="label").value == "pattern"
    assert at.selectbox(key="acc_block").value.startswith("block 2 ·")
    assert at.radio(key="acc_metric").value == "cosine"
    assert at.text_input(key="acc_ks").value == "1, 4" and at.number_input(key="acc_folds").value == 3
    assert any(m.value.startswith("**block 2 · ") and "(cosine)" in m.value for m in at.markdown)
    # The address still reproduces the view.
    assert (qp(at, "data"), qp(at, "label"), qp(at, "block"), qp(at, "metric")) == (SPEC, "pattern", "2", "cosine")


def test_bad_values_are_named_in_plain_text_and_defaults_stand():
    at = open_link("views/accuracy.py", {"model": "[x](https://evil.example)", "data": "/etc", "label": "size",
                                         "block": "99", "metric": "<b>x</b>"},
                   dataset=FOLDER, data_path=SPEC)
    assert not errors(at), errors(at)
    text = notices(at)
    for said in ("model", "is neither a built\\-in nor a timm model", "data", "outside the data root",
                 "label column", "size", "block\\=99", "is not one of 1\\, 2\\, 3\\, 4\\, 5"):
        assert said in text, said
    ignored = [w.value for w in at.warning if w.value.startswith(IGNORED)]  # the sidebar's and the page's
    assert len(ignored) == 2 and "\\[x\\]" in ignored[0] and "\\<b\\>" in ignored[1]
    assert all(no_link_can_form(w) for w in ignored)  # said, but as text: no link, image or tag
    # Defaults: the built-in model, the session's dataset, its first label column, the page's best block.
    assert at.selectbox(key="model").value == "efficientnet_lite0" and at.session_state["data_path"] == SPEC
    assert at.selectbox(key="label").value == at.selectbox(key="label").options[0]
    assert at.radio(key="acc_metric").value == "euclidean"
    assert qp(at, "model") == "efficientnet_lite0" and qp(at, "data") == SPEC and qp(at, "block") != "99"
    # Named once: the next rerun does not repeat the notice.
    at.run()
    assert IGNORED not in notices(at), notices(at)


def test_a_widget_change_is_written_to_the_address_and_not_undone_by_it():
    at = open_link("views/flags.py", {"data": SPEC, "label": "colour", "block": "2", "k": "3"})
    assert not errors(at), errors(at)
    assert at.selectbox(key="flg_block").value == 2 and at.number_input(key="flg_k").value == 3
    at.selectbox(key="flg_block").set_value(5).run()
    assert qp(at, "block") == "5" and at.selectbox(key="flg_block").value == 5
    at.radio(key="flg_metric").set_value("euclidean").run()
    assert qp(at, "metric") == "euclidean" and qp(at, "block") == "5"
    at.selectbox(key="label").set_value("pattern").run()  # the sidebar too
    assert qp(at, "label") == "pattern"
    # A link followed inside the session (the address changes under the app) is applied once.
    at.query_params["block"] = "1"
    at.run()
    assert at.selectbox(key="flg_block").value == 1 and qp(at, "block") == "1"


def test_model_weights_and_label_from_a_link_set_the_sidebar():
    at = open_link(None, {"model": "resnet18", "weights": "random", "data": SPEC, "label": "pattern"})
    assert at.text_input(key="model_custom").value == "resnet18"
    assert at.radio(key="weights_source").value.startswith("random weights")
    assert (qp(at, "model"), qp(at, "weights"), qp(at, "label")) == ("resnet18", "random", "pattern")
    bad = open_link(None, {"model": "resnet18", "weights": "/etc/passwd", "data": SPEC})
    assert "weights" in notices(bad) and "outside the data root" in notices(bad)
    assert bad.radio(key="weights_source").value.startswith("pretrained") and qp(bad, "weights") is None


@pytest.mark.parametrize("page, params, key, expected", [
    ("views/retrieval.py", {"block": "2", "k": "5", "query": "7"}, "ret_block", "block 2 ·"),
    ("views/profiles.py", {"block": "3", "by": "mean", "top": "2"}, "prof_block", "block 3 ·"),
    ("views/memory.py", {"block": "1", "votes": "uniform", "ks": "1,3", "shots": "2"}, "mem_block", "block 1 ·"),
    ("views/new_class.py", {"block": "2", "class": "red", "k": "3"}, "new_block_colour", "block 2 ·"),
    ("views/clustering.py", {"reducer": "pca", "dims": "3", "block": "2"}, "clu_block", "block 2 ·"),
])
def test_each_page_opens_at_the_block_its_link_names(page, params, key, expected):
    at = open_link(page, {"data": SPEC, "label": "colour", **params})
    assert not errors(at), errors(at)
    assert IGNORED not in notices(at), notices(at)
    assert str(at.selectbox(key=key).value).startswith(expected)
    for name, value in params.items():
        assert qp(at, name) == value, name


def test_layout_links_set_the_controls_the_two_layout_pages_share():
    at = open_link("views/umap_view.py", {"data": SPEC, "label": "colour", "block": "1", "colour": "pattern",
                                          "n_neighbors": "6"})
    assert not errors(at), errors(at)
    assert IGNORED not in notices(at), notices(at)
    assert at.radio(key="umap_block").value == "block 1" and at.selectbox(key="umap_colour").value == "pattern"
    assert at.slider(key="umap_n_neighbors").value == 6
    # GridCut starts from the same shared values; its own controls come from its link.
    at.query_params["cell"] = "32"
    at.query_params["grouped"] = "1"
    at.switch_page("views/gridcut.py")
    at.run()
    assert not errors(at), errors(at)
    assert at.radio(key="gridcut_block").value == "block 1" and at.selectbox(key="gridcut_colour").value == "pattern"
    assert at.select_slider(key="gridcut_cell").value == 32 and at.checkbox(key="gridcut_grouped").value is True
    assert (qp(at, "block"), qp(at, "colour"), qp(at, "cell"), qp(at, "grouped")) == ("1", "pattern", "32", "1")
