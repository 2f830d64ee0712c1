"""The one place that makes QR codes."""

import base64
import io

import qrcode
from PIL import Image
from qrcode.image.pil import PilImage


def qr_png(data: str, box_size: int = 8, border: int = 2) -> bytes:
    """A PNG image of a QR code for *data* (error correction M: survives a smudged work order)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(image_factory=PilImage).save(buffer, format="PNG")
    return buffer.getvalue()


def qr_data_url(data: str, box_size: int = 6) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(data, box_size=box_size)).decode("ascii")


def qr_modules_png(data: str, border: int = 2, mask_pattern: int | None = 0) -> bytes:
    """A QR code for *data* as a PNG of one pixel per module, for a PDF that scales it up without smoothing
    (CSS `image-rendering: pixelated`): the label sheets' thousand codes (bench/selfservice.py). A fixed mask
    pattern (any of the eight is valid) skips scoring all eight, which is most of qr_png's time."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=border, mask_pattern=mask_pattern
    )
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()  # the border included
    image = Image.new("1", (len(matrix), len(matrix)), 1)
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
