"""The report job may run twice, at once or one after the other, with one effect; the reconciler queues a report
that should exist and does not (issue #20)."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice.core.jobs import dispatch_committed_jobs
from fieldservice.reports.jobs import build_report, reconcile_reports
from fieldservice.reports.models import ServiceReport


def _reports(db, visit_id: int) -> list[ServiceReport]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ServiceReport).where(ServiceReport.visit_id == visit_id)))


@pytest.mark.postgres
def test_two_runs_of_the_report_job_at_once_make_one_report(app, db, resolved_request):
    visit_id = resolved_request.visits[0].id
    db.session.execute(sa.delete(ServiceReport).where(ServiceReport.visit_id == visit_id))
    db.session.commit()
    errors = []

    def run():
        with app.app_context():
            try:
                build_report(visit_id)
                db.session.commit()
            except Exception as exc:  # the assertion below shows it
                errors.append(exc)
            finally:
                db.session.remove()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert errors == []
    (report,) = _reports(db, visit_id)
    assert report.revision == 1


def test_the_report_job_run_again_changes_nothing(db, resolved_request):
    visit_id = resolved_request.visits[0].id
    (before,) = _reports(db, visit_id)
    generated_at = before.generated_at
    build_report(visit_id)
    db.session.commit()
    (after,) = _reports(db, visit_id)
    assert (after.id, after.revision, after.generated_at) == (before.id, 1, generated_at)


def test_the_reconciler_queues_a_missing_report_once(db, resolved_request):
    visit_id = resolved_request.visits[0].id
    db.session.execute(sa.delete(ServiceReport).where(ServiceReport.visit_id == visit_id))
    db.session.commit()
    assert reconcile_reports() == 1
    db.session.commit()
    assert dispatch_committed_jobs() == 1
    (report,) = _reports(db, visit_id)
    assert report.pdf.startswith(b"%PDF")
    assert reconcile_reports() == 0
