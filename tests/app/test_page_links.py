"""URL values of the Compare / CKA / Flags pages: valid values typed, invalid ones named and dropped."""
from dashboard.page_links import read_choice, read_int, read_list


def test_read_choice_int_and_list_accept_valid_values():
    p = {"score": "knn", "block": "block 3", "models": "a, b,a"}
    problems: list[str] = []
    assert read_choice(p, "score", ["knn", "logme"], problems) == "knn"
    assert read_int(p, "block", 1, 5, problems) == 3
    assert read_list(p, "models", ["a", "b", "c"], problems) == ["a", "b"]
    assert read_choice(p, "missing", ["x"], problems) is None and problems == []


def test_invalid_values_become_none_with_a_reason():
    p = {"score": "<b>x</b>", "block": "9", "k": "two", "models": "a,zzz"}
    problems: list[str] = []
    assert read_choice(p, "score", ["knn"], problems) is None
    assert read_int(p, "block", 1, 5, problems) is None
    assert read_int(p, "k", 1, 50, problems) is None
    assert read_list(p, "models", ["a"], problems) == ["a"]
    assert len(problems) == 4
    assert "outside 1..5" in problems[1] and "not a whole number" in problems[2] and "zzz" in problems[3]
