"""What the dashboard reads from a browser: page addresses and plotly selections."""
from dashboard import links
from dashboard.layouts_shared import selected_indices


def test_parse_unit_link_reads_valid_values_and_explains_the_rest():
    chans, cols = [16, 24, 40, 112, 320], ["colour", "pattern"]
    ok = links.parse_unit_link({"block": "3", "channel": "17", "label": "pattern"}, chans, cols)
    assert (ok.block, ok.channel, ok.label, ok.problems) == (3, 17, "pattern", [])
    assert links.parse_unit_link({"block": "block 5", "channel": "300"}, chans, cols).channel == 300
    bad = links.parse_unit_link({"block": "9", "channel": "x", "label": "size"}, chans, cols)
    assert (bad.block, bad.channel, bad.label) == (None, None, None) and len(bad.problems) == 3
    assert "block 9 does not exist (1..5)" in bad.problems[0]
    tight = links.parse_unit_link({"block": "1", "channel": "16"}, chans, cols)
    assert tight.block == 1 and tight.channel is None and "0..15" in tight.problems[0]
    assert links.parse_unit_link({}, chans, cols) == links.UnitLink(None, None, None, [])
    assert links.unit_query(3, 17, "colour") == {"block": "3", "channel": "17", "label": "colour"}
    assert links.parse_unit_link(links.unit_query(2, 5, None), chans, cols).channel == 5


def test_parse_explorer_link_reads_image_block_channel_and_view():
    views = {"cam": "CAM", "masks": "Binary masks", "am": "Activation maximization"}
    ok = links.parse_explorer_link({"image": "12", "block": "3", "channel": "5", "view": "masks"}, 200,
                                   [16, 24, 40], views)
    assert (ok.image, ok.block, ok.channel, ok.view, ok.problems) == (12, 3, 5, "Binary masks", [])
    assert links.parse_explorer_link({"view": "Activation maximization"}, 5, [16], views).view == \
        "Activation maximization"
    bad = links.parse_explorer_link({"image": "200", "block": "0", "view": "umap"}, 200, [16, 24, 40], views)
    assert (bad.image, bad.block, bad.view) == (None, None, None) and len(bad.problems) == 3
    assert links.parse_explorer_link({}, 5, [16], views) == links.ExplorerLink(None, None, None, None, [])


def test_selected_indices_read_customdata_and_ignore_the_rest():
    points = [
        {"customdata": [5, "red"], "point_index": 0, "curve_number": 1},
        {"customdata": [2, "blue"], "point_index": 0, "curve_number": 0},
        {"customdata": [5, "red"], "point_index": 0, "curve_number": 3},  # same image, overlay trace
        {"customdata": 7},  # scalar customdata
        {"point_index": 3},  # a trace without customdata
        {"customdata": [99]},  # out of range
        {"customdata": ["x"]},
    ]
    assert selected_indices(points, n=10) == [2, 5, 7]
    assert selected_indices(None, n=10) == [] and selected_indices([], n=10) == []
