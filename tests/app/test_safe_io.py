"""dashboard.safe_io.show_images: dataset thumbnails go to the browser as JPEG, grey tiles for bad files."""
from streamlit.testing.v1 import AppTest


def _gallery():
    from analysis.data.datasets import open_dataset
    from dashboard.safe_io import show_images

    paths = open_dataset("garments:n=200").paths[:3]
    show_images([*paths, "/no/such/image.png"], caption=["a", "b", "c", "missing"], width=96)


def test_gallery_thumbnails_are_sent_as_jpeg_with_their_captions():
    at = AppTest.from_function(_gallery, default_timeout=120)
    at.run()
    assert not at.exception
    (gallery,) = [e for e in at.main.children.values() if getattr(e, "type", None) == "image"]
    imgs = gallery.proto.imgs
    assert [i.caption for i in imgs] == ["a", "b", "c", "missing"]  # the unreadable file is a tile, not an error
    assert all(i.url.endswith(".jpg") for i in imgs), [i.url for i in imgs]


def test_thumbnails_are_encoded_smaller_than_streamlits_own_jpeg():
    """Streamlit would encode the arrays as JPEG at quality 100; the gallery's own quality-90 JPEGs
    are what the browser fetches (12 vs 35 KB per 192-px tile of the built-in set)."""
    import io

    from PIL import Image

    from analysis.data.datasets import open_dataset
    from analysis.layouts.thumbnails import thumbnails
    from dashboard.safe_io import _jpegs

    tiles = thumbnails(open_dataset("garments:n=200").paths[:12], size=192)
    ours = _jpegs(tiles)
    assert all(b[:2] == b"\xff\xd8" for b in ours)  # JPEG files, passed through by st.image as they are

    def q100(t):
        buf = io.BytesIO()
        Image.fromarray(t).save(buf, format="JPEG", quality=100)
        return len(buf.getvalue())

    assert sum(map(len, ours)) * 2 < sum(map(q100, tiles))
