"""core.images: the bytes decide; bombs, non-images and metadata do not get through."""

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from fieldservice.core.errors import ValidationFailed
from fieldservice.core.images import PHOTO_LONG_SIDE, SIGNATURE, clean_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int) -> bytes:
    """A real, complete 1-bit PNG of side x side black pixels: a few hundred KB that decode to side² pixels."""
    row = b"\x00" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def jpeg_with_gps(size=(300, 200)) -> bytes:
    image = Image.new("RGB", size, (200, 10, 10))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the phone was held upright: turn 90° to show
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_20000_pixel_square_png_is_refused_naming_the_field():
    bomb = png_bomb(20_000)
    assert len(bomb) < 1_000_000  # small on the wire: the size check alone would let it in
    with pytest.raises(ValidationFailed) as refused:
        clean_image(bomb, "photos.0")
    assert refused.value.status == 422 and "million pixels" in refused.value.fields["photos.0"]


def test_an_image_just_over_the_pixel_cap_is_refused_too():
    # 7,000² = 49 MP: above the 40 MP cap but below where Pillow itself refuses (a warning only there).
    with pytest.raises(ValidationFailed) as refused:
        clean_image(png_bomb(7_000), "signature", SIGNATURE)
    assert "million pixels" in refused.value.fields["signature"]


def test_text_named_like_a_jpeg_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        clean_image(b"GIF89a? no: just some text pretending\n" * 10, "photos.1")
    assert refused.value.fields["photos.1"] == "Not a JPEG or PNG or WebP image."


def test_a_photo_loses_its_exif_and_gps_and_is_turned_upright():
    kind, raw = clean_image(jpeg_with_gps(), "photos.0")
    stored = Image.open(io.BytesIO(raw))
    assert kind == "image/jpeg" and stored.format == "JPEG"
    assert stored.size == (200, 300)  # orientation 6 applied, then dropped with the rest
    assert dict(stored.getexif()) == {} and "exif" not in stored.info


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_photos_become_jpeg(fmt):
    kind, raw = clean_image(encoded(Image.new("RGBA", (50, 40), (0, 0, 255, 128)), fmt), "photos.0")
    assert kind == "image/jpeg" and Image.open(io.BytesIO(raw)).size == (50, 40)


def test_a_large_photo_is_shrunk_to_the_long_side():
    _, raw = clean_image(encoded(Image.new("RGB", (4000, 3000), "white"), "JPEG"), "photos.0")
    assert Image.open(io.BytesIO(raw)).size == (PHOTO_LONG_SIDE, 1920)


def test_a_signature_must_be_a_png():
    with pytest.raises(ValidationFailed) as refused:
        clean_image(encoded(Image.new("RGB", (300, 100), "white"), "JPEG"), "signature", SIGNATURE)
    assert refused.value.fields["signature"] == "Not a PNG image."


def test_a_signature_png_is_written_again_without_its_text_chunks():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    buffer = io.BytesIO()
    Image.new("LA", (300, 100)).save(buffer, format="PNG", pnginfo=info)
    kind, raw = clean_image(buffer.getvalue(), "signature", SIGNATURE)
    stored = Image.open(io.BytesIO(raw))
    assert kind == "image/png" and stored.size == (300, 100) and "Comment" not in stored.info
    assert b"script" not in raw
