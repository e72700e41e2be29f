"""Adding a class: which images are in the memory, the truth per image, the one-line score."""
import numpy as np

from analysis.probes.new_class import UPLOAD, memory_rows, trial_summary, true_labels


def test_memory_leaves_out_the_used_images_and_the_pretended_new_class():
    y = np.array(["a", "b", "a", "c", "b", "c"])
    assert memory_rows(y, "c", used=[0, 1]).tolist() == [2, 4]
    assert memory_rows(y, None, used=[]).tolist() == [0, 1, 2, 3, 4, 5]


def test_truth_names_the_held_class_by_its_new_name_and_uploads_have_none():
    y = np.array(["a", "b", "c"])
    assert true_labels(y, [2, 0], 1, "c", "new c") == ["new c", "a", UPLOAD]


def test_summary_counts_only_known_images_and_the_new_class_separately():
    truth = ["new c", "new c", "a", UPLOAD]
    s = trial_summary(truth, ["new c", "a", "a", "x"], ["new c", "new c", "b", "x"], "new c")
    assert s == ("prototype 2 / 3 correct · kNN 2 / 3 correct · new class found by the prototype for 1 of 2 of "
                 "its test images, by kNN for 2")
    assert trial_summary([UPLOAD], ["a"], ["a"], "n") is None
