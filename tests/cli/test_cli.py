import subprocess
import sys

from analysis.cli import main


def test_cli_models_lists_builtin_first(capsys):
    assert main(["models"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("efficientnet_lite0")


def test_cli_precompute_then_cache_list(capsys, small_store):
    assert main(["precompute", "--data", "garments:n=40,size=128,seed=3"]) == 0
    out = capsys.readouterr().out
    assert "cache ready" in out and "40 images" in out
    assert main(["cache", "list"]) == 0
    assert small_store.path.name in capsys.readouterr().out


def test_cli_bad_input_prints_a_message_not_a_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "analysis", "precompute", "--data", str(tmp_path / "missing")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr
