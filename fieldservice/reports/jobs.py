"""Build the e-service report when a visit ends (rq, or inline without Redis)."""

from fieldservice.core.jobs import job
from fieldservice.reports.operations import build_report as build
from fieldservice.requests import signals


@job(queue="default")
def build_report(visit_id: int) -> None:
    build(visit_id)


@signals.visit_recorded.connect
def _on_visit_recorded(visit, **_):
    build_report.delay(visit.id)
