"""URL values of every page: valid values typed, invalid ones named and dropped; bindings round-trip."""
from types import SimpleNamespace

from dashboard.page_links import (
    block_param,
    choice,
    flag,
    integer,
    items,
    number,
    numbers,
    read_choice,
    read_int,
    read_list,
)


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


def test_bindings_read_what_they_show_and_name_what_they_refuse():
    store = SimpleNamespace(blocks=[SimpleNamespace(name=f"block {i}", channels=c) for i, c in enumerate([16, 24, 40], 1)])
    cases = [  # binding, a widget value, its URL text, an invalid URL text
        (block_param("b", store), "block 2 · 24 ch", "2", "4"),
        (block_param("b", store, bare=True), "block 3", "3", "block 0"),
        (choice("m", [16, 24, 32]), 24, "24", "25"),
        (items("c", ["red", "blue", "green"]), ["blue", "red"], "blue,red", "purple"),
        (integer("s", 1, 5, shift=-1), 0, "1", "6"),
        (number("q", 0.5, 0.99), 0.75, "0.75", "1.5"),
        (flag("f"), True, "1", "maybe"),
        (numbers("ks"), "1, 4, 16", "1,4,16", "1, two"),
    ]
    for bind, value, text, bad in cases:
        problems: list[str] = []
        assert bind.show(value) == text
        assert bind.read("p", text, problems) == value and problems == [], (bind.key, text)
        assert bind.read("p", bad, problems) is None and len(problems) == 1, (bind.key, bad)
    problems = []
    assert numbers("ks").read("ks", "16 4,4;1", problems) == "1, 4, 16"  # normalised for the text field
    assert flag("f").read("f", "off", problems) is False and problems == []
