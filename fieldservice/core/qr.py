"""The one place that makes QR codes."""

import base64
import io

import qrcode
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
