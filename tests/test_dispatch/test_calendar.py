"""Dispatch knows the calendar: booked appointments that leave no room before a request's deadline rule an
engineer out, the chosen engineer's first free window is proposed (and named in the reason), and the claim pool
shows only the jobs the engineer can still fit."""

from datetime import timedelta

import pytest

from fieldservice.appointments import operations as appointments
from fieldservice.core.clock import site_zone
from fieldservice.core.models import utcnow
from fieldservice.dispatch import operations as dispatch
from fieldservice.requests.models import ServiceRequest
from tests.test_engineers.conftest import JIADING, PUDONG

NEAR_PUDONG = (31.2300, 121.5500)


@pytest.fixture
def now():
    return utcnow()


@pytest.fixture
def busy(db, dispatcher, request_factory, assign, now):
    """busy(engineer, hours) -> the engineer holds a job booked from an hour ago to *hours* from now."""

    def make(engineer, hours):
        sr = assign(request_factory(at=PUDONG, hours=200), engineer)
        start = now - timedelta(hours=1)
        appointments.book_appointment(
            sr, {"start": start, "end": now + timedelta(hours=hours)}, dispatcher, sr.version, now=now
        )
        db.session.commit()
        return sr

    return make


def _local(moment: str) -> str:
    from datetime import datetime

    return datetime.fromisoformat(moment).astimezone(site_zone()).strftime("%H:%M")


def test_an_engineer_booked_up_before_the_deadline_is_skipped(
    app, db, dispatcher, engineer_factory, request_factory, busy, now
):
    near = engineer_factory(lat=NEAR_PUDONG[0], lng=NEAR_PUDONG[1])
    far = engineer_factory(lat=JIADING[0], lng=JIADING[1])
    busy(near, 8)  # the nearer engineer is at a customer's for the next 8 hours
    soon = request_factory(at=PUDONG, hours=4)

    result = dispatch.auto_dispatch([soon.id], dispatcher, now=now)
    (given,) = result["assignments"]
    assert given["engineer_id"] == far.id
    # The far engineer is free now: the proposed window starts within the quarter hour, and the reason says so.
    start = given["window"]["start"]
    assert timedelta(0) <= (dispatch.datetime.fromisoformat(start) - now) <= timedelta(minutes=15)
    assert _local(start) in given["reason"]

    # The candidate list says why the nearer one is not offered.
    db.session.rollback()
    jobs = dispatch.to_jobs(db.session.scalars(dispatch.jobs_query().where(ServiceRequest.id == soon.id)))
    a = dispatch.assess(jobs, dispatch.load_roster(now))
    options = {s.engineer.id: s for s in dispatch.suggestions(a, 0)}
    assert options[far.id].eligible and options[far.id].window is not None
    assert not options[near.id].eligible
    assert options[near.id].window is None
    col = a.roster.engineers.index(near)
    assert not a.calendar_ok[0, col] and a.duty_ok[0, col]


def test_a_later_deadline_goes_to_the_nearer_engineer_after_their_appointment(
    app, db, dispatcher, engineer_factory, request_factory, busy, now
):
    near = engineer_factory(lat=NEAR_PUDONG[0], lng=NEAR_PUDONG[1])
    engineer_factory(lat=JIADING[0], lng=JIADING[1])
    held = busy(near, 8)
    later = request_factory(at=PUDONG, hours=72)

    (given,) = dispatch.auto_dispatch([later.id], dispatcher, now=now)["assignments"]
    assert given["engineer_id"] == near.id
    start = dispatch.datetime.fromisoformat(given["window"]["start"])
    booked_end = appointments.current_appointment(held.id).ends_at
    # After the booked window ends (the two customers are close: a few minutes' drive), on the quarter hour.
    assert booked_end <= start <= booked_end + timedelta(minutes=30)
    assert start.minute % 15 == 0
    assert _local(given["window"]["start"]) in given["reason"]


def test_nobody_with_room_is_a_reason_of_its_own(app, db, dispatcher, engineer_factory, request_factory, busy, now):
    only = engineer_factory()
    busy(only, 10)
    soon = request_factory(at=PUDONG, hours=3)
    result = dispatch.auto_dispatch([soon.id], dispatcher, now=now, apply=False)
    (left,) = result["unassigned"]
    assert left["code"] == "booked_up"
    assert result["assignments"] == []


def test_one_batch_proposes_windows_that_do_not_overlap(app, db, dispatcher, engineer_factory, request_factory, now):
    only = engineer_factory(max_open_jobs=5)
    requests = [request_factory(at=PUDONG, hours=72) for _ in range(3)]
    result = dispatch.auto_dispatch([sr.id for sr in requests], dispatcher, now=now)
    windows = sorted(
        (dispatch.datetime.fromisoformat(a["window"]["start"]), dispatch.datetime.fromisoformat(a["window"]["end"]))
        for a in result["assignments"]
    )
    assert len(windows) == 3 and {a["engineer_id"] for a in result["assignments"]} == {only.id}
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        assert end <= start


def test_the_claim_pool_shows_only_jobs_that_fit(app, db, engineer_factory, request_factory, busy, now):
    me = engineer_factory()
    soon = request_factory(at=PUDONG, hours=4)
    later = request_factory(at=PUDONG, hours=72)
    late = request_factory(at=PUDONG, hours=28, now=now - timedelta(hours=30))  # due 2 hours ago

    def pool():
        return {sr.id for sr in db.session.scalars(dispatch.claim_pool(me, now))}

    assert {soon.id, later.id, late.id} <= pool()  # free now: everything fits, the late one too
    busy(me, 8)
    shown = pool()
    assert later.id in shown
    assert soon.id not in shown and late.id not in shown


def test_the_claim_pool_over_the_api_follows_the_calendar(
    app, db, api_as, engineer_factory, request_factory, busy, now
):
    me = engineer_factory()
    soon = request_factory(at=PUDONG, hours=4)
    later = request_factory(at=PUDONG, hours=72)
    busy(me, 8)
    response = api_as(user=me.user).get("/api/v1/dispatch/pool")
    assert response.status_code == 200
    ids = {item["id"] for item in response.json["items"]}
    assert later.id in ids and soon.id not in ids
