"""`python -m analysis report`: the block report table and recommendation per label column."""
import pandas as pd

from analysis.cli import main


def test_cli_report_prints_table_and_recommendation_per_label(capsys, small_store, tmp_path):
    out = tmp_path / "report.csv"
    args = ["report", "--data", "garments:n=40,size=128,seed=3", "--label", "colour", "--label", "pattern",
            "--reducer", "pca", "--queries", "20", "--boot", "50", "--k", "1", "2", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "label column `colour`" in text and "label column `pattern`" in text
    assert "for `colour` use block " in text and "for `pattern` use block " in text
    assert text.count("block 5 ") >= 2 and "kNN setting" in text
    assert "note: " in text and "2 folds are used" in text  # the smallest class has 2 images
    table = pd.read_csv(out)
    assert len(table) == 10 and set(table["label_column"]) == {"colour", "pattern"}
    assert set(table["knn_k"]) <= {1, 2}


def test_cli_report_unknown_label_is_an_error_message(capsys, small_store):
    assert main(["report", "--data", "garments:n=40,size=128,seed=3", "--label", "size", "--no-clustering"]) == 2
    assert "no label column 'size'" in capsys.readouterr().err
