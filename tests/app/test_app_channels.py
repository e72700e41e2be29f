"""AppTests of the channel explorer and the unit card on the 200-image demo set (small AM steps)."""
import numpy as np
import pytest

from tests.apptest_util import ensure_small_store, errors, plotly_specs, run_page

FAST_AM = {"am_preview_steps": 2, "am_size": 64}


@pytest.fixture(scope="module", autouse=True)
def _store():
    ensure_small_store()


def _arr(v) -> np.ndarray:
    """Plotly JSON arrays: plain lists or {"dtype", "bdata"} (base64)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def _captions(at) -> str:
    return " | ".join(c for el in at.image for c in el.captions)


def test_channel_explorer_shows_cams_with_faithfulness_for_the_predicted_class():
    at = run_page("views/channels.py")
    assert not errors(at)
    assert [h.value for h in at.header] == ["Channel explorer"]
    caps = _captions(at)
    assert "Grad-CAM · block 5" in caps and "EigenCAM · block 5" in caps
    assert any("Faithfulness" in m.value for m in at.markdown)
    assert any(m.value.startswith("**Random-order baseline:") for m in at.markdown)
    specs = plotly_specs(at)
    names = [tr["name"] for s in specs for tr in s["data"]]
    assert "Grad-CAM · insertion" in names and "random order · deletion" in names
    target = next(s for s in at.selectbox if s.label == "Explain class")
    assert "(predicted)" in target.options[0]
    assert any(p.value.startswith("Unit card of block 5 · channel") for p in at.page_link)


def test_switching_cam_method_and_block_changes_the_maps():
    at = run_page("views/channels.py", cam_methods=["HiResCAM"], ch_block=3)
    assert not errors(at)
    caps = _captions(at)
    assert "HiResCAM · block 3" in caps and "Grad-CAM" not in caps
    at.multiselect(key="cam_methods").set_value(["LayerCAM", "CAM"]).run()
    caps = _captions(at)
    assert "LayerCAM · block 3" in caps
    assert any("Classic CAM exists only on the last block" in i.value for i in at.info)
    at.selectbox(key="ch_block").set_value(5).run()
    assert not errors(at)
    caps = _captions(at)
    assert "CAM · block 5 (bn2)" in caps  # classic CAM hooks the layer the classifier pools


def test_binary_masks_in_both_threshold_modes():
    at = run_page("views/channels.py", ch_view="Binary masks", ch_block=3, ch_channel=5)
    assert not errors(at)
    caps = _captions(at)
    assert "receptive fields ·" in caps and "upsample + threshold ·" in caps and "channel 5 map" in caps
    assert any("quantile of channel 5 over the dataset" in c.value for c in at.caption)
    inspect = [b for b in at.button if b.label.startswith("Inspect channel")]
    assert len(inspect) == 8
    # The absolute mode with a threshold above anything: nothing uncovered.
    at.radio(key="mask_how").set_value("absolute").run()
    at.number_input(key="mask_abs").set_value(1e6).run()
    assert not errors(at)
    caps = _captions(at)
    assert "receptive fields · 0% of the image" in caps and "upsample + threshold · 0%" in caps
    # A top channel's button sets the channel.
    target = [b for b in at.button if b.label.startswith("Inspect channel")][2]
    ch = int(target.label.split()[-1])
    target.click().run()
    assert at.number_input(key="ch_channel").value == ch


def test_activation_maximisation_preview_of_two_channels_reports_dataset_max():
    at = run_page("views/channels.py", ch_view="Activation maximization", ch_block=2, ch_channel=3,
                  am_extra=[7], **FAST_AM)
    assert not errors(at)
    table = at.dataframe[-1].value
    assert list(table["channel"]) == [3, 7]
    assert {"activation", "dataset_max", "ratio", "percentile"} <= set(table.columns)
    assert (table["dataset_max"] > 0).all()
    caps = _captions(at)
    assert "ch 3 · activation" in caps and "ch 7 · activation" in caps
    assert any("Preview: 2 steps" in m.value for m in at.markdown)
    assert any(b.label.startswith("Full render") for b in at.button)


def test_unit_card_reads_the_permalink_and_writes_it_back():
    at = run_page("views/unit_card.py", am_preview_steps=2)
    at.query_params["block"] = "3"
    at.query_params["channel"] = "17"
    at.query_params["label"] = "pattern"
    at.run()
    assert not errors(at)
    assert at.selectbox(key="uc_block").value == 3
    assert at.number_input(key="uc_channel").value == 17
    assert at.selectbox(key="uc_label").value == "pattern"
    assert any("block 3 · channel 17" in s.value for s in at.subheader)
    assert any("?block=3&channel=17&label=pattern" in c.value for c in at.code)
    caps = _captions(at)
    assert caps.count("#") >= 9  # top-9 images with their index
    assert "neuron feature" in caps.lower() and "activation maximization" in caps.lower()
    specs = plotly_specs(at)
    hist = next(s for s in specs if s["layout"]["title"]["text"].startswith("Mean activation of channel 17"))
    assert hist["data"][0]["type"] == "bar" and _arr(hist["data"][0]["y"]).sum() == 200  # every image once
    metrics = {m.label: m.value for m in at.metric}
    assert any(k.startswith("Class selectivity (pattern)") for k in metrics)
    # Changing a control rewrites the link.
    at.number_input(key="uc_channel").set_value(4).run()
    assert at.query_params["channel"] == ["4"] or at.query_params["channel"] == "4"


def test_unit_card_bad_link_warns_and_keeps_defaults():
    at = run_page("views/unit_card.py", am_preview_steps=2)
    at.query_params["block"] = "42"
    at.query_params["channel"] = "abc"
    at.run()
    assert not at.exception
    assert any("block 42 does not exist" in w.value for w in at.warning)


def test_channel_explorer_opens_the_view_a_link_names():
    at = run_page("views/channels.py", **FAST_AM)
    for k, v in {"image": "7", "block": "2", "channel": "9", "view": "masks"}.items():
        at.query_params[k] = v
    at.run()
    assert not errors(at)
    assert at.selectbox(key="ch_image").value == 7 and at.selectbox(key="ch_block").value == 2
    assert at.number_input(key="ch_channel").value == 9
    assert "channel 9 map" in _captions(at)
    # Later control changes are not overridden by the (unchanged) URL.
    at.number_input(key="ch_channel").set_value(4).run()
    assert at.number_input(key="ch_channel").value == 4 and "channel 4 map" in _captions(at)


def test_unit_card_shows_both_mask_modes_and_patch_neuron_feature():
    at = run_page("views/unit_card.py", am_preview_steps=2, uc_block=2, uc_channel=5, uc_k=4, uc_nf="patch")
    assert not errors(at)
    caps = _captions(at)
    assert caps.count("receptive fields ·") == 4 and caps.count("upsample ·") == 4
    assert "receptive-field patches at each peak" in caps


def _png(colour=(200, 30, 30), size=(160, 120)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_an_uploaded_image_replaces_the_dataset_image_and_bad_files_show_an_error():
    at = run_page("views/channels.py", ch_source="upload", cam_methods=["EigenCAM"])
    assert not errors(at)
    assert any("Upload a photo" in i.value for i in at.info)
    at.file_uploader[0].set_value(("red.png", _png(), "image/png")).run()
    assert not errors(at)
    caps = _captions(at)
    assert "red.png as the model sees it" in caps and "EigenCAM · block 5" in caps
    at.file_uploader[0].set_value(("broken.png", b"\x89PNG not really", "image/png")).run()
    assert not at.exception
    assert any("broken.png" in e.value for e in at.error)


def test_block_and_channel_survive_switching_to_an_upload():
    """The run that waits for the upload draws no block / channel control; the values must come back."""
    at = run_page("views/channels.py", cam_methods=["EigenCAM"])
    at.selectbox(key="ch_block").set_value(3).run()
    at.number_input(key="ch_channel").set_value(7).run()
    assert not errors(at)
    at.radio(key="ch_source").set_value("upload").run()
    assert any("Upload a photo" in i.value for i in at.info)
    at.file_uploader[0].set_value(("red.png", _png(), "image/png")).run()
    assert not errors(at)
    assert at.selectbox(key="ch_block").value == 3 and at.number_input(key="ch_channel").value == 7
    assert "EigenCAM · block 3" in _captions(at)
