"""The one upload decoder."""
import io

import pytest
from PIL import Image

from analysis.data.images import image_from_bytes
from analysis.errors import LayerScopeError


def test_image_from_bytes_reads_png_and_names_the_upload_when_unreadable():
    buf = io.BytesIO()
    Image.new("RGBA", (20, 10), (255, 0, 0, 255)).save(buf, format="PNG")
    img = image_from_bytes(buf.getvalue(), "shirt.png")
    assert img.mode == "RGB" and img.size == (20, 10) and img.getpixel((0, 0)) == (255, 0, 0)
    with pytest.raises(LayerScopeError, match="shirt.jpg"):
        image_from_bytes(b"not an image at all", "shirt.jpg")
    with pytest.raises(LayerScopeError, match="empty"):
        image_from_bytes(b"", "x.png")
