"""`layerscope compare | cka | flags | heads` on the 40-image built-in set."""
import numpy as np
import pandas as pd

from analysis.cli import main

DATA = "garments:n=40,size=128,seed=3"


def test_cli_cka_within_one_model_writes_a_symmetric_table(capsys, tmp_path, small_store):
    out = tmp_path / "cka.csv"
    assert main(["cka", "--data", DATA, "--out", str(out)]) == 0
    assert "linear CKA" in capsys.readouterr().out
    m = pd.read_csv(out, index_col=0)
    assert list(m.index) == list(m.columns) == [f"block {i}" for i in range(1, 6)]
    assert np.allclose(np.diag(m), 1.0) and np.allclose(m, m.T)


def test_cli_cka_verify_rereads_every_image(capsys, small_store):
    """--verify on the model commands re-hashes every image instead of trusting the hash cache."""
    assert main(["cka", "--data", DATA, "--verify"]) == 0
    captured = capsys.readouterr()
    assert "linear CKA" in captured.out
    assert f"verify: {small_store.n} images re-read and re-hashed" in captured.err
    from analysis.data.hash_cache import _TRUST_STATS

    assert _TRUST_STATS[0], "--verify must not outlive its command (later opens trust the hash cache again)"


def test_cli_compare_two_models_and_cka_between_them(capsys, tmp_path, small_store):
    out = tmp_path / "cmp.csv"
    assert main(["compare", "--data", DATA, "--model", "efficientnet_lite0", "--model", "efficientnet_lite1",
                 "--label", "colour", "--boot", "100", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best (model, block) per label column" in text and "images_per_second" in text
    t = pd.read_csv(out)
    assert set(t["model"]) == {"efficientnet_lite0", "efficientnet_lite1"} and len(t) == 10
    assert t["depth"].max() == 1.0 and t["logme"].notna().all()
    cka = tmp_path / "ab.csv"
    assert main(["cka", "--data", DATA, "--model", "efficientnet_lite0", "--vs", "efficientnet_lite1",
                 "--out", str(cka)]) == 0
    m = pd.read_csv(cka, index_col=0)
    assert m.shape == (5, 5) and ((m.to_numpy() > 0) & (m.to_numpy() <= 1 + 1e-9)).all()


def test_cli_flags_and_heads(capsys, tmp_path, small_store):
    out = tmp_path / "flags.csv"
    assert main(["flags", "--data", DATA, "--label", "colour", "--block", "1", "--k", "3", "--out", str(out)]) == 0
    t = pd.read_csv(out)
    assert len(t) == 40 and t["mistakenness"].is_monotonic_decreasing
    assert main(["heads", "--data", DATA, "--label", "colour", "--epochs", "10"]) == 0
    text = capsys.readouterr().out
    assert "best training-free" in text and "gain" in text


def test_cli_model_commands_refuse_bad_input(capsys):
    assert main(["compare", "--data", DATA, "--model", "efficientnet_lite0"]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["flags", "--data", DATA, "--label", "nope"]) == 2
    assert "no label column" in capsys.readouterr().err
