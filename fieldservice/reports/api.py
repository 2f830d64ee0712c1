"""The report's links for staff and the PWA (API.md: GET /api/v1/requests/<id>/report)."""

import marshmallow as ma
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.core.api import api_blueprint
from fieldservice.core.errors import NotFound
from fieldservice.extensions import db
from fieldservice.reports import operations as ops
from fieldservice.reports.permissions import CUSTOMER_LINK_MANAGE, REPORT_READ, WORK_ORDER_PRINT
from fieldservice.requests.operations import get_visible_request

blp = api_blueprint("reports_api", __name__, "E-service reports and the customer's QR link")


class ReportLinksSchema(ma.Schema):
    url = ma.fields.String()
    pdf_url = ma.fields.String()
    qr_url = ma.fields.String()
    revision = ma.fields.Integer()
    generated_at = ma.fields.AwareDateTime()
    reports = ma.fields.List(ma.fields.Dict())


@blp.route("/requests/<int:request_id>/report")
@require(REPORT_READ)
@blp.response(200, ReportLinksSchema)
def report_links(request_id):
    """The customer page, PDF and QR links of a request's latest report (404 until a visit is finished)."""
    sr = get_visible_request(request_id, current_user)
    report = ops.latest_report(sr)
    if report is None:
        raise NotFound("no_report", "No visit of this request has finished yet, so there is no report.")
    urls = ops.urls_for(sr)
    db.session.commit()
    return {
        **urls,
        "revision": report.revision,
        "generated_at": report.generated_at,
        "reports": [
            {
                "visit_id": r.visit_id,
                "revision": r.revision,
                "pdf_url": f"{urls['pdf_url']}?visit={r.visit_id}",
            }
            for r in ops.reports_of(sr)
        ],
    }


class CustomerLinkSchema(ma.Schema):
    url = ma.fields.String()
    pdf_url = ma.fields.String()
    qr_url = ma.fields.String()
    expires_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "null while the request is open (the link does not expire)"}
    )


def _link_answer(sr, urls: dict) -> dict:
    return {**urls, "expires_at": ops.link_expires_at(ops.current_link(sr), sr)}


@blp.route("/requests/<int:request_id>/customer-link")
@require(WORK_ORDER_PRINT)
@blp.response(200, CustomerLinkSchema)
def customer_link(request_id):
    """The request's customer link (issued on first read; only its hash is stored) and when it expires."""
    sr = get_visible_request(request_id, current_user)
    urls = ops.urls_for(sr)
    answer = _link_answer(sr, urls)
    db.session.commit()
    return answer


@blp.route("/requests/<int:request_id>/customer-link/revoke", methods=["POST"])
@require(CUSTOMER_LINK_MANAGE)
@blp.response(200, CustomerLinkSchema)
def revoke_customer_link(request_id):
    """Revoke the request's customer links (old links and printed QR codes answer 404) and issue a new one."""
    sr = get_visible_request(request_id, current_user)
    urls = ops.revoke_customer_link(sr, current_user)
    answer = _link_answer(sr, urls)
    db.session.commit()
    return answer
