"""The units' labels over JSON (API.md: POST /api/v1/equipment/<id>/label) and label sheets."""

import marshmallow as ma
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.core.api import api_blueprint
from fieldservice.core.errors import NotFound
from fieldservice.customers.models import Equipment
from fieldservice.extensions import db
from fieldservice.selfservice import operations as ops
from fieldservice.selfservice import sheets
from fieldservice.selfservice.permissions import LABELS_MANAGE

blp = api_blueprint("selfservice_api", __name__, "Equipment labels (QR) and label sheets")


class LabelSchema(ma.Schema):
    url = ma.fields.String()
    qr_url = ma.fields.String()


class SheetArgs(ma.Schema):
    customer_id = ma.fields.Integer(load_default=None)
    equipment_ids = ma.fields.List(ma.fields.Integer(), load_default=None)
    unlabelled = ma.fields.Boolean(load_default=False)


class SheetSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    total = ma.fields.Integer()
    done = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)
    pdf_url = ma.fields.String(allow_none=True)


def _equipment_or_404(equipment_id: int) -> Equipment:
    equipment = db.session.get(Equipment, equipment_id)
    if equipment is None:
        raise NotFound("not_found", "No such equipment.")
    return equipment


@blp.route("/equipment/<int:equipment_id>/label", methods=["POST"])
@require(LABELS_MANAGE)
@blp.response(200, LabelSchema)
def issue_label(equipment_id):
    """Issue the unit's label token, revoking any earlier one: the unit's page and its QR image."""
    token = ops.issue_label(_equipment_or_404(equipment_id), current_user)
    db.session.commit()
    return ops.label_urls(token)


def _sheet_dump(sheet) -> dict:
    return {
        "id": sheet.id,
        "status": sheet.status,
        "total": sheet.total,
        "done": sheet.done,
        "error": sheet.error,
        "pdf_url": sheets.pdf_path(sheet) if sheet.status == sheets.DONE else None,
    }


@blp.route("/label-sheets", methods=["POST"])
@require(LABELS_MANAGE)
@blp.arguments(SheetArgs)
@blp.response(202, SheetSchema)
def create_sheet(args):
    """Print labels (one customer's units, a selection, or every unit without a label) in the background."""
    sheet = sheets.request_sheet(args, current_user)
    db.session.commit()
    return _sheet_dump(sheet)


@blp.route("/label-sheets/<int:sheet_id>")
@require(LABELS_MANAGE)
@blp.response(200, SheetSchema)
def sheet_state(sheet_id):
    """How far a label sheet is; its PDF once done."""
    return _sheet_dump(sheets.get_sheet(sheet_id))
