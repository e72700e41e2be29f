"""AppTest of the kNN memory page: the dataset memory (exact search) and a synthetic store (IVF-PQ)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.apptest_util import ensure_small_store, errors, plotly_specs, run_page


@pytest.fixture(scope="module", autouse=True)
def demo_store():
    return ensure_small_store()


def test_memory_page_scores_knn_and_class_means_and_measures_adding_a_class(demo_store):
    from analysis.probes.memory import memory_experiment

    at = run_page("views/memory.py", mem_ks="1, 5", mem_shots=4)
    assert not errors(at)
    assert [h.value for h in at.header] == ["kNN memory"]
    table = at.dataframe[0].value
    assert list(table.classifier) == ["kNN (1/distance votes)"] * 2 + ["class mean"]
    # the page shows what the library computes for the same block / label / settings
    label = at.session_state["label"]
    block = demo_store.blocks[-1].index
    want = memory_experiment(demo_store.descriptors(block), demo_store.labels[label].to_numpy(), ks=(1, 5),
                             metric="cosine", max_queries=2000)
    np.testing.assert_allclose(table.top1.to_numpy(), want.table.top1.to_numpy())
    assert any("exact search" in m.value for m in at.markdown)
    titles = [s["layout"]["title"]["text"] for s in plotly_specs(at)]
    assert titles[0].startswith("Held-out accuracy") and titles[1].startswith("Adding")
    added = at.dataframe[1].value
    assert set(added.classifier) == {"kNN", "class mean"}
    assert (added["old classes before"].between(0, 1)).all()


def test_memory_page_on_a_synthetic_store_uses_the_ivfpq_index(monkeypatch):
    from analysis.descriptors import index

    monkeypatch.setattr(index, "EXACT_MAX", 10_000)  # 20 000 rows -> 16 000 in the memory -> IVF-PQ
    at = run_page("views/memory.py", mem_source="synthetic clustered descriptors (ImageNet scale)",
                  mem_syn_n=20_000, mem_syn_d=256, mem_add_go=False)
    if at.button and not errors(at):  # not generated yet in this cache: press the button
        at.button[0].click().run()
    assert not errors(at)
    assert any("IVF-PQ" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert (table.top1 > 0.5).all()  # 1000 clustered classes: the memory works at this scale
