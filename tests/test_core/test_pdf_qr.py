import subprocess

import pytest

from fieldservice.core.links import customer_page_url
from fieldservice.core.pdf import html_to_pdf
from fieldservice.core.qr import qr_png


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True).stdout


def test_pdf_renders_chinese_text(app, tmp_path):
    pdf = html_to_pdf("<html><body><h1>服务报告</h1><p>更换滤芯，漏水已解决。 ¥120.00</p></body></html>")
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf, tmp_path)
    assert "服务报告" in text and "更换滤芯" in text and "120.00" in text


def test_pdf_fetches_our_static_files_but_never_local_files_or_other_hosts(app, tmp_path, caplog):
    secret = tmp_path / "secret.css"
    secret.write_text("h1::after { content: 'LEAKED' }")
    html = (
        f'<html><head><link rel="stylesheet" href="file://{secret}">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        '<link rel="stylesheet" href="/static/css/app.css"></head>'
        "<body><h1>报告</h1></body></html>"
    )
    with caplog.at_level("WARNING", logger="fieldservice.pdf"):
        text = _pdf_text(html_to_pdf(html), tmp_path)
    assert "LEAKED" not in text
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("file://" in m for m in refused) and any("127.0.0.1:9" in m for m in refused)
    assert not any("app.css" in m for m in refused)


def test_qr_code_decodes_to_the_customer_page(app):
    zbar = pytest.importorskip("pyzbar.pyzbar")
    from io import BytesIO

    from PIL import Image

    url = customer_page_url("abc123")
    assert url == "http://fs.test/r/abc123"
    decoded = zbar.decode(Image.open(BytesIO(qr_png(url))))
    assert [d.data.decode() for d in decoded] == [url]
