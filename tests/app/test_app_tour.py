"""AppTest of the Tour: five steps, next / previous, every number on it computed from the data."""
import pytest

from analysis.layouts.palette import PALETTE, rgb_css
from analysis.probes.report_store import cached_block_report
from analysis.tour import peak, report_settings
from tests.apptest_util import ensure_small_store, errors, plotly_specs, run_page


@pytest.fixture(scope="module")
def store():
    return ensure_small_store()


def text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_tour_walks_five_steps_with_computed_numbers(store):
    at = run_page("views/tour.py")
    assert not errors(at)
    assert at.header[0].value.startswith("Tour")
    # Step 1: the receptive fields come from the model's blocks, not from the text.
    rf = [b.receptive_field for b in store.blocks]
    assert f"block 1 sees **{rf[0]} px**" in text(at)
    # The blocks table (markdown): one row per block, in order, each with its square's palette colour.
    (table,) = [m.value for m in at.markdown if m.value.startswith("| block |")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    assert [r[0] for r in rows] == [b.name for b in store.blocks]
    assert [int(r[1]) for r in rows] == [b.channels for b in store.blocks]
    assert [r[4] for r in rows] == [f"<span style='color:{rgb_css(PALETTE[i % len(PALETTE)])}'>■</span>"
                                    for i in range(len(store.blocks))]
    assert at.button(key="tour_prev").disabled

    at.button(key="tour_next").click().run()
    assert not errors(at)
    assert at.session_state["tour_step"] == 1
    rc = cached_block_report(store, "colour", **report_settings(store.n))
    pc = peak(rc)
    assert f"**colour** peaks at **{pc.block}** (kNN {pc.value:.2f}" in text(at)
    curve = plotly_specs(at)[0]
    names = [d["name"] for d in curve["data"]]
    assert names[:2] == ["colour (kNN)", "colour: chance"] and "pattern (kNN)" in names
    assert len(at.get("imgs")) or at.get("image")  # the GridCut picture

    at.button(key="tour_next").click().run()
    assert not errors(at)
    rp = peak(cached_block_report(store, "pattern", **report_settings(store.n)))
    assert f"it peaks at **{rp.block}**" in text(at)
    assert "of 8** share its pattern at block 1" in text(at)

    at.button(key="tour_next").click().run()
    assert not errors(at)
    assert "One channel of **" in text(at) and "η² = " in text(at)
    links = at.get("page_link")
    assert any("unit_card" in pl.proto.page and "channel=" in pl.proto.query_string for pl in links)

    at.button(key="tour_next").click().run()
    assert not errors(at)
    assert at.button(key="tour_next").disabled
    recs = [s.value for s in at.success] + [w.value for w in at.warning]
    assert any(r.startswith("for `colour`") for r in recs) and any(r.startswith("for `pattern`") for r in recs)

    at.button(key="tour_prev").click().run()
    assert at.session_state["tour_step"] == 3 and not errors(at)


def test_rf_picture_draws_each_block_in_its_palette_colour(store):
    import numpy as np

    from analysis.models.blocks import Block
    from analysis.tour import rf_picture

    img = np.full((100, 100, 3), 255, np.uint8)
    blocks = [Block(1, "a", 8, 2, receptive_field=20), Block(2, "b", 16, 4, receptive_field=60)]
    out = rf_picture(img, blocks, width=1)
    assert tuple(out[40, 50]) == PALETTE[0]  # top edge of the 20 px square around the centre
    assert tuple(out[20, 50]) == PALETTE[1]  # top edge of the 60 px square
    assert tuple(out[50, 50]) == (255, 255, 255)
