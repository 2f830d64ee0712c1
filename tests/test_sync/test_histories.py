"""The pull reads every job's history in one query (sync.operations._histories): the same requests, in the same
order, as asking for each job's unit on its own."""

import sqlalchemy as sa

from fieldservice.requests.models import ServiceRequest
from fieldservice.sync.operations import HISTORY_REQUESTS, _histories


def _one_by_one(db, sr):
    return db.session.scalars(
        sa.select(ServiceRequest.id)
        .where(ServiceRequest.equipment_id == sr.equipment_id, ServiceRequest.id != sr.id)
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .limit(HISTORY_REQUESTS)
    ).all()


def test_the_histories_of_many_jobs_equal_each_jobs_own(db, make_job, engineer):
    first = make_job(engineer)
    same_unit = {"equipment_id": first.equipment_id, "customer_id": first.customer_id}
    earlier = [make_job(None, **same_unit) for _ in range(HISTORY_REQUESTS + 2)]
    second = make_job(engineer, **same_unit)  # two jobs on one unit: each is in the other's history
    lone = make_job(engineer)  # a unit with no earlier request
    other = make_job(engineer)
    make_job(None, equipment_id=other.equipment_id, customer_id=other.customer_id)
    jobs = [first, second, lone, other]
    histories = _histories(jobs)
    for sr in jobs:
        assert [r.id for r in histories[sr.id]] == _one_by_one(db, sr), sr
    assert len(histories[first.id]) == HISTORY_REQUESTS
    assert second.id in {r.id for r in histories[first.id]}
    assert histories[lone.id] == []
    assert earlier
