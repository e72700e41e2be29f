"""Tests for the built-in synthetic `garments` dataset (analysis/data/garments/)."""
from __future__ import annotations

import colorsys
import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage

from analysis.data import garments as G
from analysis.errors import LayerScopeError

SMALL = 64  # image side used in tests: fast, still large enough for the patterns to resolve


def name_colour(rgb: np.ndarray) -> str:
    """A simple, independent colour-naming rule on an RGB triple in 0..1 (HSV thresholds)."""
    h, s, v = colorsys.rgb_to_hsv(*(float(x) for x in rgb))
    hue = h * 360
    if v < 0.2 or (v < 0.32 and s < 0.25):
        return "black"
    if s < 0.18:
        return "grey"
    if hue >= 345 or hue < 12:
        return "pink" if (s < 0.58 and v > 0.6) else "red"
    if hue < 42:
        return "orange" if (v >= 0.58 and s >= 0.6) else "brown"
    if hue < 70:
        return "yellow"
    if hue < 170:
        return "green"
    if hue < 255:
        return "blue"
    if hue < 300:
        return "purple"
    return "pink"


def garment_mean_colour(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inside = mask > 0.99
    assert inside.sum() > 100, "garment should cover a reasonable part of the image"
    return img[inside].mean(axis=0) / 255.0


def high_freq_energy(img: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute deviation from a 5x5 local mean, inside the (eroded) garment."""
    x = img.astype(np.float64)
    detail = np.abs(x - ndimage.uniform_filter(x, size=(5, 5, 1))).sum(axis=-1)
    inner = ndimage.binary_erosion(mask > 0.99, iterations=3)
    return float(detail[inner].mean())


# --------------------------------------------------------------------------- labels and API


def test_label_vocabularies_are_exactly_the_documented_strings():
    assert G.COLOURS == ("yellow", "orange", "blue", "black", "brown", "red", "grey", "pink",
                         "purple", "green")
    assert G.PATTERNS == ("plain", "stripes", "polka_dot", "checks", "houndstooth", "argyle",
                          "leopard", "floral", "paisley", "sequins")
    assert {"t_shirt", "shirt", "dress", "trousers", "skirt"} <= set(G.GARMENTS)
    assert len(set(G.GARMENTS)) == len(G.GARMENTS)
    assert isinstance(G.GENERATOR_VERSION, int) and G.GENERATOR_VERSION >= 2
    assert G.BACKGROUNDS == ("studio", "plain", "mixed")


@pytest.mark.parametrize("size", [32, 64, 100])
def test_render_returns_square_uint8_rgb_of_requested_size(size):
    img = G.render_garment("blue", "stripes", "dress", size=size, random_state=3)
    assert img.shape == (size, size, 3)
    assert img.dtype == np.uint8


def test_every_garment_type_renders_a_visible_silhouette():
    for i, garment in enumerate(G.GARMENTS):
        img, mask = G.render_garment_with_mask("green", "plain", garment, SMALL, i)
        assert img.shape == (SMALL, SMALL, 3)
        cover = float((mask > 0.5).mean())
        assert 0.08 < cover < 0.8, (garment, cover)


# --------------------------------------------------------------------------- product-photo look


def background_pixels(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RGB (0..1) of the pixels clear of the garment: not covered, and 2 px away from its edge."""
    clear = ~ndimage.binary_dilation(mask > 0, iterations=2)
    return img[clear].astype(np.float64) / 255.0


def hsv_saturation(rgb: np.ndarray) -> np.ndarray:
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    return np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0.0)


def sample(background: str, n: int = 40, size: int = 64, seed: int = 5):
    table = G.garment_table(n, random_state=seed)
    for row in table.itertuples(index=False):
        yield G.render_garment_with_mask(row.colour, row.pattern, row.garment, size, int(row.seed),
                                         background=background)


def test_garment_covers_about_half_to_two_thirds_of_the_frame_pixels():
    # pixel coverage (mask area / frame), not the bounding box: what the global average pool sees
    cover = np.array([float(mask.mean()) for _, mask in sample("studio")])
    assert 0.50 <= cover.mean() <= 0.65, cover.mean()
    assert cover.min() >= 0.35, cover.min()          # every garment fills most of its frame
    assert cover.max() <= 0.8, cover.max()           # and the backdrop stays visible


def test_coverage_holds_for_every_garment_type_and_size():
    for garment in G.GARMENTS:
        cover = [float(G.render_garment_with_mask("red", "plain", garment, size, seed)[1].mean())
                 for size in (48, 96) for seed in range(4)]
        assert 0.4 <= np.mean(cover) <= 0.72, (garment, cover)


def test_studio_backgrounds_are_light_and_low_saturation():
    for img, mask in sample("studio"):
        bg = background_pixels(img, mask)
        assert len(bg) > 100
        assert np.median(hsv_saturation(bg)) < 0.15
        assert np.median(bg.max(axis=-1)) > 0.65       # white, light grey, cream: never a dark scene


def test_mixed_backgrounds_keep_the_busy_coloured_scenes():
    medians = [np.median(hsv_saturation(background_pixels(img, mask))) for img, mask in sample("mixed")]
    assert max(medians) > 0.35                         # some strongly coloured scenes
    assert np.mean(np.array(medians) > 0.15) > 0.2     # and not just one


def test_plain_background_is_flat_near_white():
    for img, mask in sample("plain", n=10):
        bg = background_pixels(img, mask)
        assert bg.min(axis=-1).mean() > 0.9
        assert bg.std(axis=0).max() < 0.03             # flat: only the sensor noise


def test_background_option_changes_only_the_background():
    for row in G.garment_table(12, random_state=2).itertuples(index=False):
        seed = int(row.seed)
        studio, mask = G.render_garment_with_mask(row.colour, row.pattern, row.garment, 96, seed)
        inner = ndimage.binary_erosion(mask == 1.0, iterations=3)
        assert inner.sum() > 1000
        for background in ("plain", "mixed"):
            other, other_mask = G.render_garment_with_mask(row.colour, row.pattern, row.garment, 96, seed,
                                                           background=background)
            assert np.array_equal(mask, other_mask)
            assert np.array_equal(studio[inner], other[inner]), background
            assert not np.array_equal(studio[~inner], other[~inner]), background


def test_unknown_background_raises_layerscope_error_listing_the_options(tmp_path):
    with pytest.raises(LayerScopeError, match="background 'busy'.*studio, plain, mixed"):
        G.render_garment("red", "plain", "dress", size=SMALL, background="busy")
    with pytest.raises(LayerScopeError, match="background 'busy'"):
        G.generate(tmp_path / "ds", n=3, size=SMALL, background="busy")
    assert not (tmp_path / "ds").exists()              # checked before anything is written


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_images():
    for pattern in G.PATTERNS:
        a = G.render_garment("red", pattern, "shirt", SMALL, 11)
        b = G.render_garment("red", pattern, "shirt", SMALL, 11)
        assert np.array_equal(a, b), pattern


def test_different_seeds_give_different_images():
    a = G.render_garment("purple", "argyle", "skirt", SMALL, 1)
    b = G.render_garment("purple", "argyle", "skirt", SMALL, 2)
    assert not np.array_equal(a, b)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 5


def test_generator_random_state_is_accepted_and_consumed():
    rng = np.random.default_rng(5)
    a = G.render_garment("pink", "floral", "t_shirt", SMALL, rng)
    b = G.render_garment("pink", "floral", "t_shirt", SMALL, rng)
    assert not np.array_equal(a, b)
    again = G.render_garment("pink", "floral", "t_shirt", SMALL, np.random.default_rng(5))
    assert np.array_equal(a, again)


def test_background_does_not_depend_on_the_labels():
    # Same seed, different colour / pattern: the background far from the garment is identical,
    # i.e. backgrounds carry no label information.
    ref, mask = G.render_garment_with_mask("yellow", "plain", "trousers", SMALL, 42)
    far = ndimage.binary_dilation(mask > 0, iterations=6) == 0
    assert far.sum() > 200
    for colour, pattern in [("blue", "leopard"), ("black", "sequins"), ("red", "checks")]:
        other, other_mask = G.render_garment_with_mask(colour, pattern, "trousers", SMALL, 42)
        assert np.array_equal(mask, other_mask)
        assert np.array_equal(ref[far], other[far]), (colour, pattern)


# --------------------------------------------------------------------------- label faithfulness


def test_garment_mean_colour_is_named_as_its_colour_label_for_every_colour_and_pattern():
    wrong = []
    for ci, colour in enumerate(G.COLOURS):
        for pi, pattern in enumerate(G.PATTERNS):
            garment = G.GARMENTS[(ci + pi) % len(G.GARMENTS)]
            seed = 100 * ci + pi
            img, mask = G.render_garment_with_mask(colour, pattern, garment, SMALL, seed)
            named = name_colour(garment_mean_colour(img, mask))
            if named != colour:
                wrong.append((colour, pattern, garment, seed, named))
    assert not wrong, f"garments whose mean colour reads as another colour: {wrong}"


def test_colour_naming_rule_is_not_trivially_permissive():
    # the rule used above really discriminates the ten colours
    protos = {"yellow": (0.95, 0.85, 0.1), "orange": (1.0, 0.5, 0.05), "blue": (0.1, 0.3, 0.8),
              "black": (0.05, 0.05, 0.05), "brown": (0.45, 0.28, 0.15), "red": (0.85, 0.08, 0.1),
              "grey": (0.55, 0.55, 0.55), "pink": (1.0, 0.7, 0.78), "purple": (0.45, 0.2, 0.65),
              "green": (0.2, 0.6, 0.2)}
    for colour, rgb in protos.items():
        assert name_colour(np.array(rgb)) == colour


def test_every_pattern_adds_texture_compared_with_plain():
    # same seed -> same garment, colour, lighting and background; only the fill differs
    for ci, colour in enumerate(("yellow", "black", "grey", "brown", "blue")):
        for seed in (5, 77):
            plain_img, mask = G.render_garment_with_mask(colour, "plain", "t_shirt", 96, seed + ci)
            base = high_freq_energy(plain_img, mask)
            for pattern in G.PATTERNS[1:]:
                img, _ = G.render_garment_with_mask(colour, pattern, "t_shirt", 96, seed + ci)
                energy = high_freq_energy(img, mask)
                assert energy > 1.5 * base + 3.0, (colour, pattern, seed, energy, base)


def test_patterns_differ_from_each_other():
    imgs = {p: G.render_garment("green", p, "dress", SMALL, 9) for p in G.PATTERNS}
    for i, p in enumerate(G.PATTERNS):
        for q in G.PATTERNS[i + 1:]:
            assert not np.array_equal(imgs[p], imgs[q]), (p, q)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("turquoise", "plain", "dress"), "colour 'turquoise'"),
        (("red", "tartan", "dress"), "pattern 'tartan'"),
        (("red", "plain", "sock"), "garment 'sock'"),
    ],
)
def test_unknown_label_names_raise_layerscope_error_listing_valid_names(args, fragment):
    with pytest.raises(LayerScopeError) as info:
        G.render_garment(*args, size=SMALL)
    message = str(info.value)
    assert fragment in message
    assert "use one of" in message


def test_invalid_size_and_n_raise_layerscope_error():
    with pytest.raises(LayerScopeError, match="size"):
        G.render_garment("red", "plain", "dress", size=8)
    with pytest.raises(LayerScopeError, match="n must be"):
        G.garment_table(0)
    with pytest.raises(LayerScopeError, match="random_state"):
        G.render_garment("red", "plain", "dress", size=SMALL, random_state="seven")


# --------------------------------------------------------------------------- table


def test_table_is_balanced_over_colour_and_pattern_when_divisible():
    table = G.garment_table(1000, random_state=0)
    assert list(table.columns) == ["file", "colour", "pattern", "garment", "seed"]
    assert len(table) == 1000
    counts = table.groupby(["colour", "pattern"]).size()
    assert len(counts) == 100 and (counts == 10).all()


@pytest.mark.parametrize("n", [1, 37, 250, 1234])
def test_table_is_as_even_as_possible_otherwise(n):
    table = G.garment_table(n, random_state=3)
    assert len(table) == n
    cells = table.groupby(["colour", "pattern"]).size().reindex(
        pd.MultiIndex.from_product([G.COLOURS, G.PATTERNS]), fill_value=0)
    assert cells.max() - cells.min() <= 1
    garments = table["garment"].value_counts()
    if n >= len(G.GARMENTS):
        assert len(garments) == len(G.GARMENTS)
        assert garments.max() - garments.min() <= 2


def test_garment_types_are_spread_evenly_within_every_colour_and_pattern():
    table = G.garment_table(1000, random_state=1)
    expected = 100 / len(G.GARMENTS)
    for axis in ("colour", "pattern"):
        ct = pd.crosstab(table[axis], table["garment"])
        assert ct.shape == (10, len(G.GARMENTS))
        assert ct.values.min() >= expected - 4 and ct.values.max() <= expected + 5, ct


def test_table_is_deterministic_with_unique_seeds():
    a = G.garment_table(300, random_state=7)
    b = G.garment_table(300, random_state=7)
    c = G.garment_table(300, random_state=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a["seed"].is_unique
    assert a["file"].is_unique


# --------------------------------------------------------------------------- generate


def test_generate_writes_images_and_csv_with_relative_paths(tmp_path):
    calls = []
    csv_path = G.generate(tmp_path / "ds", n=12, size=48, random_state=4,
                          progress=lambda done, total, note="": calls.append((done, total, note)))
    assert csv_path == tmp_path / "ds" / "labels.csv"
    labels = pd.read_csv(csv_path)
    assert list(labels.columns) == ["path", "colour", "pattern", "garment"]
    assert len(labels) == 12
    table = G.garment_table(12, random_state=4)
    for row, trow in zip(labels.itertuples(index=False), table.itertuples(index=False)):
        assert not row.path.startswith("/")
        file = tmp_path / "ds" / row.path
        assert file.is_file()
        img = np.asarray(Image.open(file))
        assert img.shape == (48, 48, 3)
        # the file holds exactly the rendered row (lossless PNG)
        expected = G.render_garment(row.colour, row.pattern, row.garment, 48, int(trow.seed))
        assert np.array_equal(img, expected)
    assert calls and calls[-1] == (12, 12, "rendering garments")
    assert all(0 < d <= t for d, t, _ in calls)
    assert not list((tmp_path / "ds" / "images").glob("*.tmp"))


def test_generate_is_byte_identical_across_runs(tmp_path):
    def digest(root):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((root / "images").iterdir())}

    G.generate(tmp_path / "a", n=6, size=40, random_state=2)
    G.generate(tmp_path / "b", n=6, size=40, random_state=2)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert (tmp_path / "a" / "labels.csv").read_bytes() == (tmp_path / "b" / "labels.csv").read_bytes()


def test_generate_writes_the_chosen_background(tmp_path):
    G.generate(tmp_path / "m", n=4, size=48, random_state=1, background="mixed")
    table = G.garment_table(4, random_state=1)
    for row in table.itertuples(index=False):
        img = np.asarray(Image.open(tmp_path / "m" / row.file))
        expected = G.render_garment(row.colour, row.pattern, row.garment, 48, int(row.seed), background="mixed")
        assert np.array_equal(img, expected)


# --------------------------------------------------------------------------- dataset spec


def test_dataset_spec_background_option_opens_its_own_cached_set():
    from analysis.data.datasets import open_dataset

    studio = open_dataset("garments:n=6,size=48,seed=2")
    mixed = open_dataset("garments:n=6,size=48,seed=2,background=mixed")
    assert studio.name == "garments" and mixed.name == "garments-mixed"
    assert studio.root != mixed.root and f"v{G.GENERATOR_VERSION}" in mixed.root.name
    assert list(studio.labels["colour"]) == list(mixed.labels["colour"])   # same rows, other backdrops
    a, b = (np.asarray(Image.open(ds.paths[0])) for ds in (studio, mixed))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("spec, fragment", [
    ("garments:n=6,size=48,background=busy", "background 'busy'"),
    ("garments:n=6,backgrund=mixed", "Unknown garments option(s) backgrund"),
])
def test_dataset_spec_rejects_unknown_background_and_options(spec, fragment):
    from analysis.data.datasets import open_dataset

    with pytest.raises(LayerScopeError) as info:
        open_dataset(spec)
    assert fragment in str(info.value)
