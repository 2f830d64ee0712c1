"""Build the e-service report when a visit ends (rq, or inline without Redis), and queue again the reports that
should exist and do not (a job lost with its worker, Redis away at the wrong moment, a seeded database)."""

import logging

from fieldservice.core.jobs import job, pending_calls, register_periodic
from fieldservice.reports.operations import build_report as build
from fieldservice.reports.operations import visits_without_report
from fieldservice.requests import signals

log = logging.getLogger("fieldservice.reports")


@job(queue="default")
def build_report(visit_id: int) -> None:
    build(visit_id)


@signals.visit_recorded.connect
def _on_visit_recorded(visit, **_):
    build_report.delay(visit.id)


@job(queue="low")
def reconcile_reports() -> int:
    """Queue the report of every visit that has none and whose report job is not waiting in rq; returns how many."""
    waiting = pending_calls(build_report.job_path)
    missing = [visit_id for visit_id in visits_without_report() if (visit_id,) not in waiting]
    for visit_id in missing:
        build_report.delay(visit_id)
    if missing:
        log.warning("reconciler: %s visits had no report and no job; queued again: %s", len(missing), missing[:20])
    return len(missing)


register_periodic("reports-reconcile", "fieldservice.reports.jobs.reconcile_reports", "RECONCILE_SECONDS")
