"""Inference engines: OpenVINO gives the torch descriptors, the auto choice keeps the fidelity
bar, failures fall back to torch with the reason, the export is cached, tcmalloc is safe."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.cli import main
from analysis.descriptors.engines import MIN_COSINE, TorchEngine, choose_engine, worst_cosine
from analysis.descriptors.engines import choose as choose_mod
from analysis.descriptors.engines import openvino_engine as ove
from analysis.descriptors.extract import extract
from analysis.errors import LayerScopeError

TCMALLOC = next(iter(sorted(Path("/usr/lib").glob("*/libtcmalloc_minimal.so.4"))), None)


@pytest.fixture(scope="module")
def batch(lite0, small_garments):
    from analysis.data.decode import BatchDecoder

    return next(BatchDecoder(lite0).batches(small_garments.paths, 0, 4))[1]


@pytest.fixture(scope="module")
def ref(lite0, batch):
    return TorchEngine(lite0, "fp32")(batch)


def test_openvino_descriptors_equal_torch_fp32_for_every_block(lite0, batch, ref):
    out = ove.OpenVinoEngine(lite0, "fp32")(batch)
    assert sorted(out) == [b.index for b in lite0.blocks]
    for b in lite0.blocks:
        assert out[b.index].shape == (len(batch), b.channels) and out[b.index].dtype == np.float32
        assert worst_cosine({0: ref[b.index]}, {0: out[b.index]}) >= MIN_COSINE, b


@pytest.mark.parametrize("rows", [1, 3])
def test_openvino_batch_split_over_streams_keeps_every_row_in_order(lite0, batch, ref, rows):
    """The batch is split over the CPU plugin's async requests: odd sizes and a single row come back
    in input order (each row equals the torch row, not a neighbour's)."""
    engine = ove.OpenVinoEngine(lite0, "fp32")
    order = [2, 0, 3][:rows]
    out = engine(batch[order])
    for b in lite0.blocks:
        assert out[b.index].shape == (rows, b.channels)
        for r, j in enumerate(order):
            assert np.allclose(out[b.index][r], ref[b.index][j], atol=1e-4), (b, r)


def test_vit_token_outputs_are_averaged_inside_the_exported_graph():
    from analysis.models.model import load_model

    m = load_model("test_vit", weights="random", device="cpu")  # timm's tiny ViT: blocks output tokens
    x = torch.randn(2, 3, m.input_size, m.input_size, generator=torch.Generator().manual_seed(0))
    a, b = TorchEngine(m, "fp32")(x), ove.OpenVinoEngine(m, "fp32")(x)
    assert [v.shape for v in b.values()] == [(2, blk.channels) for blk in m.blocks]
    assert worst_cosine(a, b) >= MIN_COSINE


class Noisy:
    """A fake engine: torch fp32 descriptors plus noise of a chosen size (a 'reduced precision')."""

    name, device = "openvino", "cpu"

    def __init__(self, model, precision, noise):
        self.precision, self.torch, self.noise = precision, TorchEngine(model, "fp32"), noise

    def __call__(self, x):
        rng = np.random.default_rng(0)
        return {i: a + self.noise * np.abs(a).mean() * rng.standard_normal(a.shape).astype(np.float32)
                for i, a in self.torch(x).items()}


@pytest.mark.parametrize("noise, kept", [(2.0, False), (1e-4, True)])
def test_auto_choice_refuses_an_engine_below_the_fidelity_bar(lite0, batch, monkeypatch, noise, kept):
    monkeypatch.setitem(choose_mod.FACTORIES, "openvino", lambda m, p: Noisy(m, p, noise))
    monkeypatch.setattr(choose_mod, "rank", lambda model, engines, x: {k: (1000.0 if "openvino" in k else 1.0)
                                                                      for k in engines})
    choice, out = choose_engine(lite0, batch, "auto", "auto")
    if kept:
        assert choice.label == "openvino/fp32" and choice.cosine >= MIN_COSINE
    else:
        assert choice.label == "torch/fp32"
        assert any("refused" in n and "openvino/fp32" in n for n in choice.notes), choice.notes
    assert worst_cosine(TorchEngine(lite0, "fp32")(batch), out) >= (MIN_COSINE if not kept else 0.99)


def test_unknown_engine_or_precision_is_refused(lite0, batch, small_garments):
    with pytest.raises(LayerScopeError, match="engine"):
        choose_engine(lite0, batch, "tensorrt", "auto")
    with pytest.raises(LayerScopeError, match="engine"):
        extract(lite0, small_garments, engine="foo")


def test_failed_export_falls_back_to_torch_with_the_reason(lite0, tmp_path, monkeypatch, capsys):
    import openvino

    monkeypatch.setattr(ove, "export_dir", lambda model: tmp_path / "engines" / "lite0")  # nothing exported there
    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise RuntimeError("unsupported operation aten::frobnicate")

    monkeypatch.setattr(openvino, "convert_model", broken)
    ove.forget_compiled()
    tiny = "garments:n=6,size=64,seed=11"
    assert main(["precompute", "--data", tiny, "--engine", "openvino", "--precision", "fp32"]) == 0
    err = capsys.readouterr().err
    assert "aten::frobnicate" in err and "engine note:" in err
    from analysis.data.datasets import open_dataset

    store = extract(lite0, open_dataset(tiny))  # the entry the CLI made
    prov = store.manifest["provenance"]
    assert prov["engine"] == "torch" and any("aten::frobnicate" in n for n in prov["engine_notes"])
    # The failure is remembered beside the export cache: not retried on every extraction.
    choice, _ = choose_engine(lite0, torch.zeros(1, 3, 224, 224), "openvino", "fp32")
    assert choice.label == "torch/fp32" and len(calls) == 1


def test_exported_model_is_cached_and_reused_without_exporting_again(lite0, batch, ref, monkeypatch):
    ove.export(lite0)  # exported (or already there from an earlier test)
    folder = ove.export_dir(lite0)
    assert (folder / "model.xml").is_file() and (folder / "model.bin").is_file()
    assert json.loads((folder / "export.json").read_text())["weights"] == lite0.weights_id
    import openvino

    monkeypatch.setattr(openvino, "convert_model", lambda *a, **k: pytest.fail("exported again"))
    ove.forget_compiled()
    out = ove.OpenVinoEngine(lite0, "fp32")(batch)
    assert worst_cosine(ref, out) >= MIN_COSINE


def test_cli_engine_openvino_records_the_choice_in_the_manifest(capsys):
    assert main(["precompute", "--data", "garments:n=40,size=128,seed=3", "--engine", "openvino",
                 "--precision", "fp32", "--batch-size", "13"]) == 0
    out = capsys.readouterr().out
    assert "engine openvino/fp32 on cpu" in out
    path = Path(out.strip().splitlines()[-1 if "engine" not in out.splitlines()[-1] else -2].split(" · ")[-1])
    prov = json.loads((path / "manifest.json").read_text())["provenance"]
    assert prov["engine"] == "openvino" and prov["precision"] == "fp32" and prov["dtype"] == "fp32"
    assert prov["min_cosine_to_fp32"] >= MIN_COSINE and prov["images_per_second"] > 0
    assert prov["openvino"]


def test_cli_unknown_engine_is_an_error_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["precompute", "--engine", "foo"])
    assert exc.value.code == 2 and "error:" in capsys.readouterr().err


@pytest.mark.skipif(TCMALLOC is None, reason="libtcmalloc_minimal not installed")
def test_openvino_runs_in_a_process_that_preloads_tcmalloc(lite0, batch, tmp_path):
    """Without the hwloc fix this aborted with 'double free or corruption' in compile_model."""
    xml = ove.export(lite0)  # the child compiles and runs the cached export (where the crash was)
    np.save(tmp_path / "x.npy", batch.numpy())
    code = ("import sys, numpy as np; from analysis.descriptors.engines.openvino_engine import _openvino; "
            "ov = _openvino(); c = ov.Core(); m = c.compile_model(c.read_model(sys.argv[1]), 'CPU', "
            "{'INFERENCE_PRECISION_HINT': 'f32'}); r = m(np.load(sys.argv[2])); "
            "np.save(sys.argv[3], r[m.outputs[-1]])")
    env = dict(os.environ, LD_PRELOAD=str(TCMALLOC))
    r = subprocess.run([sys.executable, "-c", code, str(xml), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    last = lite0.blocks[-1].index
    assert worst_cosine({0: ove.OpenVinoEngine(lite0, "fp32")(batch)[last]}, {0: np.load(tmp_path / "y.npy")}) >= MIN_COSINE


def test_data_page_shows_the_engine_and_why_openvino_was_not_used(lite0, tmp_path, monkeypatch):
    import openvino
    from PIL import Image

    from analysis.data.datasets import open_folder
    from tests.apptest_util import errors, run_page

    for name, rgb in (("red", (200, 20, 20)), ("blue", (20, 20, 200))):
        (tmp_path / "ds" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 40), tuple(min(255, c + 30 * i) for c in rgb)).save(tmp_path / "ds" / name / f"{i}.png")
    monkeypatch.setattr(ove, "export_dir", lambda model: tmp_path / "engines" / "x")
    monkeypatch.setattr(openvino, "convert_model", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no Frob op")))
    extract(lite0, open_folder(tmp_path / "ds"), engine="openvino")
    at = run_page(dataset="image folder or CSV…", data_path=str(tmp_path / "ds"))
    assert not errors(at)
    assert any("Cached: 4 images" in s.value and "with torch fp32" in s.value for s in at.success)
    assert any("no Frob op" in c.value for c in at.caption)
