"""Complaints over JSON: log, list, read, act (assign, start, act, close, reopen), and counts by type."""

from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.complaints import operations as ops
from fieldservice.complaints.models import Complaint
from fieldservice.complaints.permissions import COMPLAINTS
from fieldservice.complaints.schemas import (
    ACTION_ARGS,
    ComplaintActionSchema,
    ComplaintArgs,
    ComplaintDetailSchema,
    ComplaintQueryArgs,
    ComplaintSchema,
    ComplaintSummarySchema,
)
from fieldservice.core.api import api_blueprint, page_of
from fieldservice.extensions import db

blp = api_blueprint("complaints_api", __name__, "Customer complaints: intake, handling timeline, escalation")


def _detail(complaint: Complaint) -> Complaint:
    complaint.allowed = ops.allowed_actions(complaint, current_user)
    return complaint


@blp.route("/complaints", methods=["POST"])
@require(COMPLAINTS)
@blp.arguments(ComplaintArgs)
@blp.response(201, ComplaintDetailSchema)
def create_complaint(args):
    """Log a complaint from any channel; its due time follows its severity."""
    complaint = ops.create_complaint(args, current_user)
    db.session.commit()
    return _detail(complaint)


@blp.route("/complaints")
@require(COMPLAINTS)
@blp.arguments(ComplaintQueryArgs, location="query")
@blp.response(200)
def list_complaints(args):
    """Complaints, newest first, filtered."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return page_of(ops.filter_complaints(**args), ComplaintSchema(), page, per_page)


@blp.route("/complaints/summary")
@require(COMPLAINTS)
@blp.response(200, ComplaintSummarySchema)
def complaint_summary():
    """Counts by type, severity and status, and how many unclosed ones are escalated (for management)."""
    return {
        "by_type": ops.counts_by("kind"),
        "by_severity": ops.counts_by("severity"),
        "by_status": ops.counts_by("status"),
        "escalated_open": ops.count(ops.filter_complaints(escalated=True)),
    }


@blp.route("/complaints/<int:complaint_id>")
@require(COMPLAINTS)
@blp.response(200, ComplaintDetailSchema)
def get_complaint(complaint_id):
    return _detail(ops.get_complaint(complaint_id))


@blp.route("/complaints/<int:complaint_id>/actions")
@require(COMPLAINTS)
@blp.response(200, ComplaintActionSchema(many=True))
def complaint_actions(complaint_id):
    """The complaint's timeline, oldest first."""
    return ops.timeline(ops.get_complaint(complaint_id))


def _action_view(action: str, schema):
    @require(COMPLAINTS)
    @blp.arguments(schema)
    @blp.response(200, ComplaintDetailSchema)
    def view(args, complaint_id):
        complaint = ops.get_complaint(complaint_id)
        version = args.pop("version")
        complaint = ops.perform(complaint, action, current_user, version, **args)
        db.session.commit()
        return _detail(complaint)

    view.__name__ = f"{action}_complaint"
    view.__doc__ = (
        f"Take the action `{action}` (see complaints/states.py TRANSITIONS: who, from which state, to which)."
    )
    return view


for _action, _schema in ACTION_ARGS.items():
    blp.route(f"/complaints/<int:complaint_id>/{_action}", methods=["POST"], endpoint=f"{_action}_complaint")(
        _action_view(_action, _schema)
    )
