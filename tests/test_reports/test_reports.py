import re
import subprocess
from io import BytesIO

import pytest
import sqlalchemy as sa
from PIL import Image

from fieldservice.reports import operations as ops
from fieldservice.reports.models import CustomerRating, ServiceReport
from fieldservice.requests.models import RequestEvent


def _token(url: str) -> str:
    return url.rsplit("/r/", 1)[1].split("/")[0].removesuffix(".pdf")


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True).stdout


def test_a_finished_visit_gets_a_report_with_pdf(db, resolved_request, tmp_path):
    reports = ops.reports_of(resolved_request)
    assert len(reports) == 1
    report = reports[0]
    assert report.content["visit"]["solution"] == "更换进水阀密封圈并做泄漏测试"
    assert report.content["signature"].startswith("data:image/png;base64,")
    text = _pdf_text(report.pdf, tmp_path)
    assert "更换进水阀密封圈并做泄漏测试" in text
    assert resolved_request.number in text
    assert "30.00" in text  # the travel cost line


def test_rebuilding_unchanged_data_is_a_no_op_and_changes_make_a_new_revision(db, resolved_request):
    visit_id = ops.reports_of(resolved_request)[0].visit_id
    again = ops.build_report(visit_id)
    assert again.revision == 1
    from fieldservice.requests.models import VisitCost

    db.session.add(VisitCost(visit_id=visit_id, kind="toll", amount=15))
    db.session.flush()
    db.session.expire_all()
    assert ops.build_report(visit_id).revision == 2


def test_api_gives_links_only_once_a_visit_is_finished(api_as, open_request, dispatcher):
    api = api_as(user=dispatcher)
    missing = api.get(f"/api/v1/requests/{open_request.id}/report")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "no_report"


def test_customer_page_shows_progress_report_and_pdf(client, api_as, resolved_request, dispatcher):
    links = api_as(user=dispatcher).get(f"/api/v1/requests/{resolved_request.id}/report").get_json()
    assert links["url"].startswith("http://fs.test/r/")
    token = _token(links["url"])
    page = client.get(f"/r/{token}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "张师傅" in html and "更换进水阀密封圈并做泄漏测试" in html
    assert page.headers["Cache-Control"] == "private, no-store"
    pdf = client.get(f"/r/{token}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_qr_code_decodes_to_the_customer_page(client, api_as, resolved_request, dispatcher):
    zbar = pytest.importorskip("pyzbar.pyzbar")
    links = api_as(user=dispatcher).get(f"/api/v1/requests/{resolved_request.id}/report").get_json()
    png = client.get(f"/r/{_token(links['url'])}/qr.png")
    assert png.mimetype == "image/png"
    assert [d.data.decode() for d in zbar.decode(Image.open(BytesIO(png.data)))] == [links["url"]]


MANGLES = [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t[:10], lambda t: "x" * 200]


@pytest.mark.parametrize("mangle", MANGLES)
def test_wrong_or_altered_token_is_a_plain_404(client, db, resolved_request, mangle):
    token = ops.current_token(resolved_request)
    db.session.commit()
    for suffix in ("", ".pdf", "/qr.png"):
        assert client.get(f"/r/{mangle(token)}{suffix}").status_code == 404
    assert client.post(f"/r/{mangle(token)}/rating", json={"score": 5}).status_code == 404


def test_a_token_opens_only_its_own_request(client, db, resolved_request, open_request):
    # open_request and resolved_request are one request here; make a second one to compare.
    from fieldservice.requests import operations as rops

    other = rops.create_request(
        {
            "customer_id": resolved_request.customer_id,
            "equipment_id": resolved_request.equipment_id,
            "problem_type": "leak",
            "description": "另一台机器漏水",
            "priority": 3,
            "required_by": resolved_request.required_by,
        },
        resolved_request.created_by,
    )
    db.session.commit()
    token = ops.current_token(resolved_request)
    other_token = ops.current_token(other)
    db.session.commit()
    assert token != other_token and len(token) >= 22  # >= 128 bits of randomness, URL-safe
    page = client.get(f"/r/{other_token}").get_data(as_text=True)
    assert other.number in page and resolved_request.number not in page


def test_rating_once_per_visit(client, db, resolved_request):
    token = ops.current_token(resolved_request)
    db.session.commit()
    bad = client.post(f"/r/{token}/rating", json={"score": 9})
    assert bad.status_code == 422 and "score" in bad.get_json()["error"]["fields"]
    first = client.post(f"/r/{token}/rating", json={"score": 4, "comment": "师傅很专业"})
    assert first.status_code == 201
    second = client.post(f"/r/{token}/rating", json={"score": 1})
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "already_rated"
    ratings = db.session.scalars(sa.select(CustomerRating)).all()
    assert [(r.score, r.comment) for r in ratings] == [(4, "师傅很专业")]


def test_urge_from_the_customer_page_records_an_event(client, db, open_request):
    token = ops.current_token(open_request)
    db.session.commit()
    response = client.post(f"/r/{token}/urge", json={"note": "请尽快上门"})
    assert response.status_code == 200
    urges = sa.select(RequestEvent).where(RequestEvent.request_id == open_request.id, RequestEvent.action == "urge")
    event = db.session.scalars(urges).one()
    assert event.actor_id is None and event.actor_label == "customer" and event.note == "请尽快上门"
    db.session.refresh(open_request)
    assert open_request.urged


def test_guessing_tokens_is_rate_limited(client):
    statuses = [client.get(f"/r/guess{i:04d}xxxxxxxxxxxxxxxxxxx").status_code for i in range(40)]
    assert statuses[0] == 404 and statuses[-1] == 429


def test_work_order_pdf_carries_the_qr_link(console_as, open_request, tmp_path):
    client = console_as("dispatcher")
    response = client.get(f"/requests/{open_request.id}/work-order.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = _pdf_text(response.data, tmp_path)
    assert open_request.number in text and "机器底部漏水" in text


def test_callback_agent_cannot_print_work_orders(console_as, open_request):
    assert console_as("callback").get(f"/requests/{open_request.id}/work-order.pdf").status_code == 403


def test_reopened_request_keeps_earlier_reports(db, resolved_request, make_user):
    from fieldservice.requests import operations as rops

    callback = make_user("callback")
    rops.perform(
        resolved_request,
        "revisit",
        callback,
        resolved_request.version,
        satisfied=False,
        scores={"timeliness": 2, "attitude": 3, "quality": 2},
        comment="又开始漏水",
    )
    db.session.commit()
    assert resolved_request.status == "awaiting_assignment"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceReport)) == 1


def test_a_link_issued_meanwhile_by_another_transaction_is_the_one_returned(db, resolved_request, monkeypatch):
    """current_token when a concurrent transaction issued the request's link between this one's read and insert:
    the insert gives way, and the same serial derives the same token; still one link."""
    from fieldservice.reports.models import CustomerLink

    token = ops.current_token(resolved_request)
    db.session.commit()
    real, reads = ops._links, []

    def first_read_misses(sr):
        reads.append(sr.id)
        return [] if len(reads) == 1 else real(sr)

    monkeypatch.setattr(ops, "_links", first_read_misses)
    assert ops.current_token(resolved_request) == token
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomerLink)) == 1


def test_the_signature_stays_on_the_page_of_the_work_it_confirms(app, db, resolved_request, tmp_path):
    """It once came last, after the charges, and landed alone on page 2: now it is a row of the visit's table."""
    from flask import render_template

    report = ops.reports_of(resolved_request)[0]
    with app.test_request_context():
        html = render_template("reports/report_pdf.html", r=report.content)
    signature = html.index('<tr class="signature">')
    assert signature < html.index('class="grid"')  # before the parts and charges tables
    path = tmp_path / "r.pdf"
    path.write_bytes(report.pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
