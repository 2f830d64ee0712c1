"""Automatic dispatch: the hard constraints, the batch optimum, urgency first, balance, and a reason for
everything."""

import itertools
import random
from datetime import time, timedelta

import numpy as np
import pytest

from fieldservice.dispatch import matching
from fieldservice.dispatch import operations as dispatch
from fieldservice.engineers.models import EngineerLeave
from fieldservice.requests.models import ServiceRequest
from tests.test_engineers.conftest import JIADING, PUDONG, TUESDAY_10

NEAR_PUDONG = (31.2300, 121.5500)
NEAR_JIADING = (31.3700, 121.2700)


def run(dispatcher, ids=None, **kw):
    return dispatch.auto_dispatch(ids, dispatcher, now=kw.pop("now", TUESDAY_10), **kw)


def by_request(result):
    return {a["request_id"]: a for a in result["assignments"]}, {u["request_id"]: u for u in result["unassigned"]}


@pytest.fixture
def at_tuesday(request_factory):
    """Requests logged on Tuesday 10:00 (Shanghai), the clock automatic dispatch runs with here."""

    def make(**kw):
        return request_factory(now=TUESDAY_10, **kw)

    return make


def test_never_a_job_to_an_unskilled_off_duty_on_leave_or_full_engineer(
    app, db, dispatcher, engineer_factory, at_tuesday, assign
):
    lat, lng = NEAR_PUDONG
    unskilled = engineer_factory(skills=["elevator"], lat=lat, lng=lng)
    weekend = engineer_factory(lat=lat, lng=lng, work_days="6,7")
    on_leave = engineer_factory(lat=lat, lng=lng)
    db.session.add(
        EngineerLeave(
            engineer=on_leave,
            starts_at=TUESDAY_10 - timedelta(days=1),
            ends_at=TUESDAY_10 + timedelta(days=5),
        )
    )
    full = engineer_factory(lat=lat, lng=lng, max_open_jobs=1)
    assign(at_tuesday(), full)
    far = engineer_factory(lat=JIADING[0], lng=JIADING[1], max_open_jobs=2)
    db.session.commit()
    requests = [at_tuesday(priority=2) for _ in range(3)]

    result = run(dispatcher, [sr.id for sr in requests])
    assigned, unassigned = by_request(result)
    assert {a["engineer_id"] for a in assigned.values()} == {far.id}
    assert len(assigned) == 2 and len(unassigned) == 1
    (left,) = unassigned.values()
    assert left["code"] == "taken_in_batch" and left["reason"]
    for sr in requests:
        db.session.refresh(sr)
    assert sorted(sr.status for sr in requests) == ["assigned", "assigned", "awaiting_assignment"]
    assert not {unskilled.id, weekend.id, on_leave.id, full.id} & {sr.engineer_id for sr in requests}


def test_the_batch_is_solved_as_a_whole_not_first_come(app, dispatcher, engineer_factory, at_tuesday):
    # E1 is near both requests and the only one who can do the elevator; greedy would give E1 the urgent
    # purifier.
    both = engineer_factory(skills=["water_purifier", "elevator"], lat=PUDONG[0], lng=PUDONG[1], max_open_jobs=1)
    purifier_only = engineer_factory(
        skills=["water_purifier"], lat=NEAR_PUDONG[0] + 0.05, lng=NEAR_PUDONG[1], max_open_jobs=1
    )
    urgent = at_tuesday(priority=1)
    elevator = at_tuesday(category="elevator", priority=4)
    assigned, unassigned = by_request(run(dispatcher))
    assert not unassigned
    assert assigned[urgent.id]["engineer_id"] == purifier_only.id
    assert assigned[elevator.id]["engineer_id"] == both.id


def test_urgent_requests_win_when_engineers_are_short(app, dispatcher, engineer_factory, at_tuesday):
    engineer = engineer_factory(lat=NEAR_PUDONG[0], lng=NEAR_PUDONG[1], max_open_jobs=1)
    relaxed = at_tuesday(priority=4, at=NEAR_PUDONG, hours=200)  # next door
    urgent = at_tuesday(priority=1, at=(31.30, 121.50), hours=3)  # farther away, but due soon
    result = run(dispatcher)
    assigned, unassigned = by_request(result)
    assert assigned[urgent.id]["engineer_id"] == engineer.id
    assert unassigned[relaxed.id]["code"] == "taken_in_batch"
    assert "cap" in unassigned[relaxed.id]["reason"] or unassigned[relaxed.id]["reason"]
    # The most urgent comes first in the answer.
    assert result["assignments"][0]["request_id"] == urgent.id


def test_every_assignment_says_why_and_the_timeline_records_it(app, db, dispatcher, engineer_factory, at_tuesday):
    engineer_factory(lat=NEAR_PUDONG[0], lng=NEAR_PUDONG[1])
    sr = at_tuesday(at=NEAR_PUDONG)
    result = run(dispatcher, [sr.id], apply=True)
    (assignment,) = result["assignments"]
    # The reason names the skill, the distance, the load and the SLA (in the request's language: zh by
    # default).
    for word in ("0.0", "0/5", "SLA", "48.0"):
        assert word in assignment["reason"]
    assert assignment["distance_km"] < 2
    event = sr.events[-1]
    assert event.action == "assign" and event.note == assignment["reason"] and event.actor_id == dispatcher.id


@pytest.mark.parametrize("case", ["no_skill", "on_leave", "at_cap", "off_duty"])
def test_a_reason_for_each_request_left_out(app, db, dispatcher, engineer_factory, at_tuesday, assign, case):
    engineer = engineer_factory(
        skills=["elevator" if case == "no_skill" else "water_purifier"],
        max_open_jobs=1,
        work_days="6,7" if case == "off_duty" else "1,2,3,4,5,6,7",
    )
    if case == "on_leave":
        db.session.add(
            EngineerLeave(
                engineer=engineer,
                starts_at=TUESDAY_10 - timedelta(hours=1),
                ends_at=TUESDAY_10 + timedelta(days=1),
            )
        )
        db.session.commit()
    if case == "at_cap":
        assign(at_tuesday(), engineer)
    sr = at_tuesday(priority=2)
    result = run(dispatcher, [sr.id])
    assert result["assignments"] == []
    (left,) = result["unassigned"]
    assert left["request_id"] == sr.id and left["code"] == case and left["reason"]


def test_locked_and_other_states_are_reported_not_dispatched(app, db, dispatcher, engineer_factory, at_tuesday):
    from fieldservice.core.errors import ValidationFailed
    from fieldservice.requests import operations as rops

    engineer_factory()
    locked = at_tuesday(hours=1)
    rops.sweep_requests(TUESDAY_10 + timedelta(hours=2))
    db.session.commit()
    assert locked.status == "locked"
    suspended = at_tuesday(suspended=True)
    result = run(dispatcher, [locked.id, suspended.id], now=TUESDAY_10 + timedelta(hours=2))
    codes = {u["request_id"]: u["code"] for u in result["unassigned"]}
    assert codes == {locked.id: "locked", suspended.id: "not_awaiting"}
    with pytest.raises(ValidationFailed) as bad:
        run(dispatcher, [999999])
    assert "request_ids" in bad.value.fields


def test_a_proposal_changes_nothing(app, db, dispatcher, engineer_factory, at_tuesday):
    engineer_factory()
    sr = at_tuesday()
    proposal = run(dispatcher, apply=False)
    assert len(proposal["assignments"]) == 1
    db.session.rollback()
    assert db.session.get(ServiceRequest, sr.id).status == "awaiting_assignment"
    assert [e.action for e in db.session.get(ServiceRequest, sr.id).events] == ["create"]


def test_work_is_spread_over_the_team(app, dispatcher, engineer_factory, at_tuesday, assign):
    a = engineer_factory(lat=PUDONG[0], lng=PUDONG[1], max_open_jobs=6)
    b = engineer_factory(lat=PUDONG[0], lng=PUDONG[1], max_open_jobs=6)
    assign(at_tuesday(), a)
    assign(at_tuesday(), a)
    for _ in range(6):
        at_tuesday()
    assigned, _left = by_request(run(dispatcher))
    counts = {a.id: 2, b.id: 0}
    for item in assigned.values():
        counts[item["engineer_id"]] += 1
    assert counts == {a.id: 4, b.id: 4}


def test_engineers_in_the_next_shift_are_used_when_the_deadline_allows(app, dispatcher, engineer_factory, at_tuesday):
    evening = TUESDAY_10 + timedelta(hours=11)  # Tuesday 21:00 in Shanghai
    day_shift = engineer_factory(work_start=time(8, 30), work_end=time(17, 30), work_days="1,2,3,4,5")
    relaxed = at_tuesday(priority=3)
    urgent = at_tuesday(priority=1, hours=2)
    assigned, unassigned = by_request(run(dispatcher, now=evening))
    assert assigned[relaxed.id]["engineer_id"] == day_shift.id
    assert "08:30" in assigned[relaxed.id]["reason"]
    # The urgent one is already overdue at 21:00 and nobody is on duty now.
    assert unassigned[urgent.id]["code"] == "off_duty"


# ---------------------------------------------------------------- the solver alone (no database)


def _random_batch(rng: np.random.Generator, n: int, m: int) -> matching.Batch:
    cap = rng.integers(1, 4, m)
    load = np.array([rng.integers(0, c) for c in cap])
    eligible = rng.random((n, m)) < 0.6
    urgency = rng.random(n)
    return matching.Batch(
        base=rng.random((n, m)) * 50 * (1 + urgency)[:, None],
        eligible=eligible,
        free=cap - load,
        load=load,
        cap=cap,
        penalty=dispatch.PENALTY * (1 + urgency),
    )


def _brute_force(batch: matching.Batch) -> float:
    """The optimum by enumeration: every request picks an engineer or nobody, caps respected."""
    n, m = batch.shape
    best = float("inf")
    choices = [[None] + [e for e in range(m) if batch.eligible[r, e]] for r in range(n)]
    for pick in itertools.product(*choices):
        used = np.bincount([e for e in pick if e is not None], minlength=m)
        if (used > batch.free).any():
            continue
        total = matching.evaluate(batch, {r: e for r, e in enumerate(pick) if e is not None})["total"]
        best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_exact_solver_finds_the_optimum(seed):
    rng = np.random.default_rng(seed)
    batch = _random_batch(rng, n=int(rng.integers(2, 6)), m=int(rng.integers(1, 4)))
    exact = matching.evaluate(batch, matching.solve_dense(batch))["total"]
    assert exact == pytest.approx(_brute_force(batch))
    pruned = matching.solve_pruned(batch, k=2)
    # Pruning never breaks a constraint, and stays close to the optimum.
    used = np.bincount(list(pruned.values()), minlength=batch.shape[1])
    assert (used <= batch.free).all() and all(batch.eligible[r, e] for r, e in pruned.items())
    assert (
        matching.evaluate(batch, pruned)["assigned"]
        == matching.evaluate(batch, matching.solve_dense(batch))["assigned"]
    )


def test_the_pruned_solver_is_near_optimal_on_a_large_batch():
    rng = random.Random(7)
    n, m = 300, 60
    gen = np.random.default_rng(rng.randint(0, 1000))
    batch = _random_batch(gen, n, m)
    dense = matching.evaluate(batch, matching.solve_dense(batch))
    pruned = matching.evaluate(batch, matching.solve_pruned(batch))
    assert pruned["assigned"] == dense["assigned"]
    assert pruned["total"] <= dense["total"] * 1.05
