"""`layerscope memory` and `layerscope export` on a small synthetic store (no model needed)."""
from __future__ import annotations

import pandas as pd

from analysis.cli import main


def test_memory_command_prints_the_scores_and_the_add_class_measurement(capsys):
    rc = main(["memory", "--synthetic", "3000", "--dim", "16", "--classes", "10", "--k", "1", "5",
               "--add-class", "class 3", "--shots", "4"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "memory 2,400 images, 10 classes, 600 held-out queries" in out
    assert "exact search over 2,400 rows (cosine)" in out
    assert "class mean" in out and "kNN (1/distance votes)" in out
    assert "add class `class 3` from 4 images" in out and "old classes before" in out


def test_memory_command_refuses_an_unknown_class_with_a_message(capsys):
    rc = main(["memory", "--synthetic", "3000", "--dim", "16", "--classes", "10", "--add-class", "zebra"])
    assert rc == 2
    assert "error: no class 'zebra'" in capsys.readouterr().err


def test_export_command_writes_one_row_per_descriptor(tmp_path, capsys):
    out = tmp_path / "syn.parquet"
    rc = main(["export", "--synthetic", "3000", "--dim", "16", "--classes", "10", "--out", str(out)])
    assert rc == 0 and out.is_file()
    df = pd.read_parquet(out)
    assert len(df) == 3000 and list(df.columns) == ["path", "class", "block_1"]
    assert len(df.block_1.iloc[0]) == 16
