"""Label sheets are printed in the background (rq, or inline without Redis)."""

import logging

from fieldservice.core.jobs import job
from fieldservice.extensions import db
from fieldservice.selfservice import sheets

log = logging.getLogger("fieldservice.selfservice")


@job(queue="default", timeout=900)
def build_label_sheet(sheet_id: int) -> None:
    try:
        sheets.build_sheet(sheet_id)
    except Exception as exc:
        db.session.rollback()
        # Shown on the sheet's page; rq retries the job with the house's Retry pattern all the same.
        sheets.mark_failed(sheet_id, f"{type(exc).__name__}: {exc}")
        raise
