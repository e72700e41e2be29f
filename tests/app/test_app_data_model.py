from tests.apptest_util import errors, plotly_specs, run_page


def test_data_model_page_shows_dataset_blocks_and_compute_button():
    at = run_page()
    assert not errors(at)
    assert [h.value for h in at.header] == ["Data & model"]
    subs = [s.value for s in at.subheader]
    assert "Dataset · garments" in subs and "Model · efficientnet_lite0" in subs
    blocks = at.table[0].value
    assert list(blocks.index) == [f"block {i}" for i in range(1, 6)]
    assert list(blocks["channels"]) == [16, 24, 40, 112, 320]
    specs = plotly_specs(at)
    assert specs and sorted(specs[0]["data"][0]["x"]) == sorted(
        ["yellow", "orange", "blue", "black", "brown", "red", "grey", "pink", "purple", "green"])


def test_compute_button_fills_the_cache_then_page_says_cached():
    at = run_page()
    buttons = [b for b in at.button if b.label == "Compute descriptors"]
    if buttons:  # a fresh cache: compute from the page
        buttons[0].click()
        at.run()
    assert not errors(at)
    assert any("Cached: 200 images" in s.value for s in at.success)


def test_bad_dataset_path_shows_an_error_not_a_traceback(tmp_path):
    at = run_page(dataset="image folder or CSV…", data_path=str(tmp_path / "nowhere"))
    assert not at.exception
    assert any("not a dataset" in e.value for e in at.error)


def test_unavailable_model_weights_show_how_to_fix(tmp_path):
    at = run_page(model_custom="resnet50", weights=str(tmp_path / "missing.pth"))
    assert not at.exception
    assert any("Weights file not found" in e.value for e in at.error)


def _folder(tmp_path):
    from PIL import Image

    for name, rgb in (("red", (200, 20, 20)), ("blue", (20, 20, 200))):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (48, 48), tuple(min(255, c + 10 * i) for c in rgb)).save(tmp_path / name / f"{i}.png")
    return tmp_path


def test_descriptors_computed_by_the_cli_while_the_app_is_open_are_picked_up(tmp_path):
    from analysis.data.datasets import open_folder
    from analysis.descriptors.extract import extract
    from analysis.models.model import load_model

    root = _folder(tmp_path)
    at = run_page(dataset="image folder or CSV…", data_path=str(root))
    assert any(b.label == "Compute descriptors" for b in at.button)
    extract(load_model("efficientnet_lite0"), open_folder(root))  # what `python -m analysis precompute` does
    at.run()
    assert not errors(at) and any("Cached: 6 images" in s.value for s in at.success)


def test_corrupted_descriptors_are_dropped_with_a_message(tmp_path):
    from analysis.data.datasets import open_folder
    from analysis.descriptors.extract import extract
    from analysis.models.model import load_model

    root = _folder(tmp_path)
    store = extract(load_model("efficientnet_lite0"), open_folder(root))
    f = store.path / "block_2.npy"
    f.write_bytes(f.read_bytes()[:-16] + bytes(16))
    at = run_page(dataset="image folder or CSV…", data_path=str(root))
    assert not at.exception
    assert any("corrupted" in w.value for w in at.warning)
    assert any(b.label == "Compute descriptors" for b in at.button)
