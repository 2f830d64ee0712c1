"""Who may take a job: skills, activity, leave, the cap on open jobs and working hours; and the claim pool."""

from datetime import time, timedelta

import pytest

from fieldservice.dispatch import operations as ops
from fieldservice.engineers.models import EngineerLeave
from fieldservice.requests.operations import open_load
from tests.test_engineers.conftest import TUESDAY_10

# Times as Shanghai wall clock on the Tuesday of TUESDAY_10 (UTC+8).
TUESDAY_20 = TUESDAY_10 + timedelta(hours=10)
SATURDAY_10 = TUESDAY_10 + timedelta(days=4)


@pytest.fixture
def office_engineer(make_engineer):
    """08:30-17:30, Monday to Friday, skilled for water purifiers, cap 2."""
    return make_engineer(skills=["water_purifier"], max_open_jobs=2, work_start=time(8, 30), work_end=time(17, 30))


def test_skilled_engineer_on_duty_may_take_the_job(app, office_engineer):
    verdict = ops.eligible(office_engineer, "water_purifier", TUESDAY_10, deadline=TUESDAY_10 + timedelta(hours=2))
    assert verdict.ok and bool(verdict)


def test_missing_skill_is_refused(app, office_engineer):
    verdict = ops.eligible(office_engineer, "elevator", TUESDAY_10)
    assert not verdict and verdict.code == "no_skill"
    assert ops.eligible(office_engineer, None, TUESDAY_10).code == "no_skill"


def test_inactive_engineer_or_login_is_refused(app, db, office_engineer):
    office_engineer.user.active = False
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_10).code == "inactive"
    office_engineer.user.active = True
    office_engineer.active = False
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_10).code == "inactive"


def test_leave_covers_its_period_only(app, db, office_engineer):
    db.session.add(
        EngineerLeave(
            engineer=office_engineer,
            starts_at=TUESDAY_10 - timedelta(hours=1),
            ends_at=TUESDAY_10 + timedelta(hours=1),
        )
    )
    db.session.commit()
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_10).code == "on_leave"
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_10 + timedelta(hours=1)).ok
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_10 - timedelta(hours=2)).ok


def test_the_cap_counts_assigned_and_locked_jobs(app, office_engineer, request_factory, assign):
    assign(request_factory(), office_engineer)
    assert open_load([office_engineer.id]) == {office_engineer.id: 1}
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_10).ok
    assign(request_factory(), office_engineer)
    verdict = ops.eligible(office_engineer, "water_purifier", TUESDAY_10)
    assert verdict.code == "at_cap" and "2" in verdict.message
    # A job handed back is no longer the engineer's.
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_10, load=1).ok


def test_off_duty_until_after_the_deadline_is_refused(app, office_engineer):
    # Tuesday 20:00: the next shift starts Wednesday 08:30.
    tonight = TUESDAY_20 + timedelta(hours=1)
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_20, deadline=tonight).code == "off_duty"
    tomorrow_noon = TUESDAY_10 + timedelta(days=1, hours=2)
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_20, deadline=tomorrow_noon).ok
    # Saturday morning, due Sunday: no shift before Monday.
    assert (
        ops.eligible(office_engineer, "water_purifier", SATURDAY_10, deadline=SATURDAY_10 + timedelta(days=1)).code
        == "off_duty"
    )
    # Without a deadline (claiming from the pool) the hour does not matter.
    assert ops.eligible(office_engineer, "water_purifier", TUESDAY_20).ok


def test_claim_pool_matches_skills_and_zone(app, db, engineer_factory, request_factory, make_customer):
    engineer = engineer_factory(skills=["water_purifier"], zone="浦东")
    mine = request_factory(zone="浦东")
    nowhere = request_factory(customer=make_customer(zone=None))
    request_factory(zone="嘉定")
    request_factory(category="elevator", zone="浦东")
    urgent = request_factory(zone="浦东", priority=1)
    pool = list(db.session.scalars(ops.claim_pool(engineer)))
    assert [sr.id for sr in pool] == [urgent.id, mine.id, nowhere.id]
    # An engineer without a zone sees every skilled request.
    roaming = engineer_factory(skills=["water_purifier"], zone=None)
    assert len(list(db.session.scalars(ops.claim_pool(roaming)))) == 4


def test_claim_by_an_engineer_on_leave_or_at_cap_is_refused(app, db, engineer_factory, request_factory, assign):
    from fieldservice.core.errors import Conflict
    from fieldservice.core.models import utcnow
    from fieldservice.requests import operations as rops

    engineer = engineer_factory(max_open_jobs=1)
    assign(request_factory(), engineer)
    sr = request_factory()
    with pytest.raises(Conflict) as refused:
        rops.perform(sr, "claim", engineer.user, sr.version)
    assert refused.value.code == "claim_not_allowed"
    db.session.rollback()
    assert db.session.get(type(sr), sr.id).status == "awaiting_assignment"

    other = engineer_factory()
    db.session.add(
        EngineerLeave(engineer=other, starts_at=utcnow() - timedelta(hours=1), ends_at=utcnow() + timedelta(days=1))
    )
    db.session.commit()
    with pytest.raises(Conflict):
        rops.perform(sr, "claim", other.user, sr.version)
    db.session.rollback()
    free = engineer_factory()
    rops.perform(sr, "claim", free.user, sr.version)
    db.session.commit()
    assert sr.status == "assigned" and sr.engineer_id == free.id
