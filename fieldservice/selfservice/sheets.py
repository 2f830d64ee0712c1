"""Label sheets: A4 pages of QR labels for units, built in the background with their progress kept."""

import base64
import logging

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import force_locale

from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.core.models import utcnow
from fieldservice.core.pdf import render_pdf
from fieldservice.core.qr import qr_modules_png
from fieldservice.customers.models import Customer, Equipment
from fieldservice.extensions import db
from fieldservice.selfservice import operations as ops
from fieldservice.selfservice.models import LabelSheet

log = logging.getLogger("fieldservice.selfservice")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
MAX_LABELS = 5000  # one sheet job (the message says 5000); more is several sheets
PROGRESS_EVERY = 25  # labels between two progress writes


def request_sheet(args: dict, actor) -> LabelSheet:
    """Queue a sheet for one selection: a customer's units, chosen units, or every unit without a label (of one
    customer when customer_id is given too)."""
    customer_id, chosen, unlabelled = args.get("customer_id"), args.get("equipment_ids"), args.get("unlabelled")
    if customer_id is not None and db.session.get(Customer, customer_id) is None:
        raise ValidationFailed("validation_failed", "No such customer.", {"customer_id": "No such customer."})
    if unlabelled:
        ids = ops.unlabelled_equipment_ids(customer_id)
    elif chosen is not None:
        ids = list(dict.fromkeys(chosen))
        found = set(db.session.scalars(sa.select(Equipment.id).where(Equipment.id.in_(ids))))
        if len(found) != len(ids):
            raise ValidationFailed(
                "validation_failed", "Some units do not exist.", {"equipment_ids": "Some units do not exist."}
            )
    elif customer_id is not None:
        ids = list(
            db.session.scalars(
                sa.select(Equipment.id).where(Equipment.customer_id == customer_id).order_by(Equipment.id)
            )
        )
    else:
        raise ValidationFailed(
            "validation_failed",
            "Choose a customer, units, or the units without a label.",
            {"equipment_ids": "Choose a customer, units, or the units without a label."},
        )
    if not ids:
        raise ValidationFailed("validation_failed", "There are no units to print.", {"equipment_ids": "No units."})
    if len(ids) > MAX_LABELS:
        raise ValidationFailed(
            "validation_failed",
            "At most 5000 labels in one sheet.",
            {"equipment_ids": "At most 5000 labels in one sheet."},
        )
    sheet = LabelSheet(equipment_ids=ids, total=len(ids), status=QUEUED, created_by_id=actor.id)
    db.session.add(sheet)
    db.session.flush()
    # Imported here: jobs.py imports this module for the job's body.
    from fieldservice.selfservice.jobs import build_label_sheet

    build_label_sheet.delay(sheet.id)
    log.info("label sheet %s of %s units asked by %s", sheet.id, len(ids), actor.username)
    return sheet


def get_sheet(sheet_id: int) -> LabelSheet:
    sheet = db.session.get(LabelSheet, sheet_id)
    if sheet is None:
        raise NotFound("not_found", "No such label sheet.")
    return sheet


def pdf_path(sheet: LabelSheet) -> str:
    return url_for("selfservice.sheet_pdf", sheet_id=sheet.id)


def _progress(sheet_id: int, **values) -> None:
    # Its own transaction: the console reads the progress while the job's transaction is still open.
    with db.engine.begin() as conn:
        conn.execute(sa.update(LabelSheet.__table__).where(LabelSheet.__table__.c.id == sheet_id).values(**values))


def label_rows(equipment_ids: list[int], on_progress=None, actor=None) -> list[dict]:
    """What each label prints (its token issued when the unit has none), in the order asked."""
    units = {
        e.id: e
        for e in db.session.scalars(
            sa.select(Equipment).where(Equipment.id.in_(equipment_ids)).options(sa.orm.joinedload(Equipment.product))
        )
    }
    tokens = ops.label_tokens([i for i in equipment_ids if i in units], actor)
    rows = []
    for n, equipment_id in enumerate(equipment_ids, 1):
        equipment = units.get(equipment_id)
        if equipment is not None:
            png = qr_modules_png(ops.label_urls(tokens[equipment_id])["url"])
            rows.append(
                {
                    "qr": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
                    "product": equipment.product.name,
                    "model": equipment.product.model,
                    "serial": equipment.serial_number,
                }
            )
        if on_progress is not None and n % PROGRESS_EVERY == 0:
            on_progress(n)
    return rows


def render_labels(rows: list[dict], in_child: bool = False) -> bytes:
    """The A4 PDF of *rows*' labels, in the site's language (a sheet is printed once for everyone)."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return render_pdf(
            "selfservice/label_sheet_pdf.html",
            in_child=in_child,
            labels=rows,
            hotline=current_app.config["FIELDSERVICE_SERVICE_HOTLINE"],
        )


def build_sheet(sheet_id: int) -> LabelSheet | None:
    """The job's body: issue the missing labels, render the PDF, keep it; a finished sheet is left as it is."""
    # No row lock: the progress is written on another connection while this transaction runs. Two runs of the
    # job (a retry beside a slow first run) issue the same derived tokens and write the same PDF.
    sheet = db.session.get(LabelSheet, sheet_id)
    if sheet is None or sheet.status == DONE:
        return sheet
    _progress(sheet_id, status=RUNNING, done=0)
    # SQLite (the demo, jobs inline) has one writer: this transaction's labels would make the progress wait.
    live = db.engine.dialect.name != "sqlite"
    rows = label_rows(sheet.equipment_ids, (lambda n: _progress(sheet_id, done=n)) if live else None)
    pdf = render_labels(rows, in_child=True)
    sheet.pdf, sheet.pdf_size = pdf, len(pdf)
    sheet.status, sheet.done, sheet.finished_at, sheet.error = DONE, len(rows), utcnow(), None
    db.session.flush()
    log.info("label sheet %s built: %s labels, %s bytes", sheet_id, len(rows), len(pdf))
    return sheet


def mark_failed(sheet_id: int, error: str) -> None:
    _progress(sheet_id, status=FAILED, error=error[:500])
