"""The one check every uploaded image passes (visit photos and signatures, the self-service intake's photos).

The bytes decide, never the declared type: the image is decoded with Pillow under a pixel cap and encoded again,
so what is stored and later shown to a customer's phone is a plain image this code wrote (no metadata, no EXIF
GPS, no script, no decompression bomb).
"""

import base64
import binascii
import io
import re
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from fieldservice.core.errors import ValidationFailed

PHOTO, SIGNATURE = "photo", "signature"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Decoding costs memory by pixels, not by bytes: a 438 KB PNG can hold 20,000 x 20,000 pixels (1.6 GB decoded).
MAX_PIXELS = 40_000_000
# Pillow refuses twice this at open (DecompressionBombError) and warns above it; both end in a 422 here, and every
# other Pillow use in the process gets the same guard.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
PHOTO_LONG_SIDE = 2560
PHOTO_QUALITY = 85
# What each kind may be, by the decoder that reads it: a signature is what the signature pad draws, a PNG.
FORMATS = {PHOTO: ("JPEG", "PNG", "WEBP"), SIGNATURE: ("PNG",)}
_DATA_URL = re.compile(r"data:([\w/+.-]+)(;[\w=.-]+)*;base64,([A-Za-z0-9+/=\s]*)")


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("validation_failed", f"{field}: {message}", {field: message})


def decode_data_url(value, field: str) -> bytes:
    """The bytes of a base64 `data:` URL (its declared type is not trusted: clean_image reads the bytes)."""
    match = _DATA_URL.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise _refuse(field, "Send a base64 data: URL.")
    try:
        raw = base64.b64decode(match.group(3), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise _refuse(field, "The data is not valid base64.") from exc
    return raw


def clean_image(raw: bytes, field: str, kind: str = PHOTO) -> tuple[str, bytes]:
    """Decode *raw* as a *kind* image and encode it again: (content type, bytes), or a 422 naming *field*.

    A photo (JPEG, PNG or WebP) becomes a JPEG, turned upright by its EXIF orientation, at most PHOTO_LONG_SIDE
    pixels on its long side; a signature (PNG only) becomes a PNG. Neither keeps any metadata."""
    if not raw:
        raise _refuse(field, "The image is empty.")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise _refuse(field, "The image is larger than 5 MB.")
    formats = FORMATS[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=formats)
            # The header is read; refuse by its size before a single pixel is decoded.
            if image.width * image.height > MAX_PIXELS:
                raise _too_many_pixels(field)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(field) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        names = " or ".join("WebP" if f == "WEBP" else f for f in formats)
        raise _refuse(field, f"Not a {names} image.") from exc
    return _encode_photo(image) if kind == PHOTO else _encode_signature(image)


def _too_many_pixels(field: str) -> ValidationFailed:
    return _refuse(field, f"The image has more than {MAX_PIXELS // 1_000_000} million pixels.")


def _encode_photo(image: Image.Image) -> tuple[str, bytes]:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # JPEG has no transparency: lay the image on white, as a phone's gallery shows it.
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((PHOTO_LONG_SIDE, PHOTO_LONG_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # No exif=, icc_profile= or comment: the new file carries pixels only.
    image.save(buffer, format="JPEG", quality=PHOTO_QUALITY)
    return "image/jpeg", buffer.getvalue()


def _encode_signature(image: Image.Image) -> tuple[str, bytes]:
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA", "P"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    # No pnginfo: text chunks (and anything hidden in them) stay behind. zlib's default level, not optimize=True:
    # that tries every level and took 4 times as long (bench/sync_replay.py: a fifth of a visit op's time) for
    # a quarter fewer bytes of a signature of about 1.5 KB.
    image.save(buffer, format="PNG")
    return "image/png", buffer.getvalue()
