"""The rules of DOMAIN.md "The service request loop", one test each, at the operations level."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.errors import Conflict, Forbidden, ValidationFailed
from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops
from fieldservice.requests.models import (
    ProblemTypeRequestCount,
    ProductRequestCount,
    RequestEvent,
    ServiceRequest,
    Survey,
)
from fieldservice.requests.states import ACTIONS, STATUSES, TRANSITIONS, roles_for

from .conftest import visit_data


def events(db, sr):
    return db.session.scalars(
        sa.select(RequestEvent).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.id)
    ).all()


def assigned(db, make_request, engineer, make_user, **kw):
    sr = make_request(**kw)
    ops.perform(sr, "assign", make_user("dispatcher"), sr.version, engineer_id=engineer.id)
    db.session.commit()
    return sr


# ---------------------------------------------------------------- the table itself


def test_transition_table_is_consistent():
    for t in TRANSITIONS:
        assert t.sources <= set(STATUSES)
        assert t.target is None or t.target in STATUSES
    # Every public action has a role that may take it, and API.md's "who" column holds.
    assert set(ACTIONS) >= {"assign", "suspend", "resume", "unlock", "cancel", "claim", "urge", "revisit"}
    assert roles_for("unlock") == {"manager", "admin"}
    assert roles_for("claim") == {"engineer"}
    assert roles_for("revisit") == {"callback", "manager", "admin"}
    assert "engineer" not in roles_for("assign") and "callback" not in roles_for("cancel")


# ---------------------------------------------------------------- rule 1: entry


def test_rule1_entry_starts_awaiting_with_due_times_and_counts(db, make_request, make_product):
    product = make_product()
    now = utcnow()
    sr = make_request(product=product, priority=2, now=now)
    assert sr.status == "awaiting_assignment"
    assert sr.number.startswith("SR-") and len(sr.number) == len("SR-20261123-0001")
    assert sr.response_due == now + timedelta(hours=24)
    assert sr.resolution_due == now + timedelta(hours=72)
    make_request(product=product, problem_type="leak")
    assert db.session.get(ProductRequestCount, product.id).count == 2
    assert db.session.get(ProblemTypeRequestCount, "no_cooling").count == 1
    assert db.session.get(ProblemTypeRequestCount, "leak").count == 1
    (event,) = events(db, sr)
    assert (event.action, event.from_status, event.to_status) == ("create", None, "awaiting_assignment")


def test_rule1_entry_may_start_suspended_and_resume(db, make_request, make_user):
    sr = make_request(suspended=True)
    assert sr.status == "suspended"
    dispatcher = make_user("dispatcher")
    ops.perform(sr, "resume", dispatcher, sr.version)
    assert sr.status == "awaiting_assignment"
    ops.perform(sr, "suspend", dispatcher, sr.version, reason="等待备件")
    assert sr.status == "suspended"
    assert [e.action for e in events(db, sr)] == ["create", "resume", "suspend"]


def test_rule1_refuses_bad_entry_and_changes_nothing(
    db, make_customer, make_user, problem_types, make_equipment
):
    customer = make_customer()
    other_unit = make_equipment()
    with pytest.raises(ValidationFailed) as info:
        ops.create_request(
            {
                "customer_id": customer.id,
                "equipment_id": other_unit.id,
                "problem_type": "old",
                "description": " ",
                "priority": 7,
                "required_by": utcnow() - timedelta(days=1),
                "channel": "fax",
            },
            make_user("dispatcher"),
        )
    assert set(info.value.fields) == {
        "equipment_id",
        "problem_type",
        "description",
        "priority",
        "required_by",
        "channel",
    }
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProblemTypeRequestCount)) == 0


def test_priority4_counts_working_days():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    friday = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    response, resolution = ops.due_times(4, friday)
    assert response.astimezone(ZoneInfo("Asia/Shanghai")) == datetime(
        2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")
    )
    assert (
        resolution.astimezone(ZoneInfo("Asia/Shanghai")).weekday() == 4
    )  # ten working days later: a Friday again


def test_agreement_hours_win_when_stricter():
    from types import SimpleNamespace

    now = utcnow()
    gold = SimpleNamespace(response_hours=4, resolution_hours=500)
    response, resolution = ops.due_times(3, now, gold)
    assert response == now + timedelta(hours=4)  # stricter than 72 h
    assert resolution == now + timedelta(hours=7 * 24)  # the priority's 7 days is stricter than 500 h


# ---------------------------------------------------------------- rule 2: assignment


def test_rule2_assign_moves_to_assigned(db, make_request, engineer, make_user):
    sr = assigned(db, make_request, engineer, make_user)
    assert (sr.status, sr.engineer_id) == ("assigned", engineer.id)
    event = events(db, sr)[-1]
    assert (event.action, event.from_status, event.to_status, event.data["engineer_id"]) == (
        "assign",
        "awaiting_assignment",
        "assigned",
        engineer.id,
    )


def test_rule2_claim_needs_the_skill(db, make_request, make_engineer):
    sr = make_request()  # water_purifier
    hvac = make_engineer(skills=["hvac"])
    with pytest.raises(Forbidden):
        ops.perform(sr, "claim", hvac.user, sr.version)
    db.session.rollback()
    skilled = make_engineer(skills=["water_purifier"])
    ops.perform(sr, "claim", skilled.user, sr.version)
    assert (sr.status, sr.engineer_id) == ("assigned", skilled.id)


def test_assign_refuses_an_unknown_engineer(db, make_request, make_user):
    sr = make_request()
    with pytest.raises(ValidationFailed) as info:
        ops.perform(sr, "assign", make_user("dispatcher"), sr.version, engineer_id=999)
    assert "engineer_id" in info.value.fields


# ---------------------------------------------------------------- rule 3: locked


def test_rule3a_unassigned_past_required_date_is_locked_by_the_sweep(db, make_request):
    start = utcnow() - timedelta(days=2)
    sr = make_request(now=start, required_by=start + timedelta(days=1))
    assert ops.sweep_requests(utcnow()) >= 1
    assert sr.status == "locked"
    lock = [e for e in events(db, sr) if e.action == "lock"]
    assert len(lock) == 1 and lock[0].actor_label == "system"


def test_rule3b_second_unsolved_visit_locks(db, make_request, engineer, make_user):
    sr = assigned(db, make_request, engineer, make_user)
    ops.record_visit(sr, visit_data("unresolved"), engineer.user, sr.version)
    assert (sr.status, sr.engineer_id, sr.unsolved_visit_count) == ("awaiting_assignment", None, 1)
    ops.perform(sr, "assign", make_user("dispatcher"), sr.version, engineer_id=engineer.id)
    ops.record_visit(sr, visit_data("unresolved"), engineer.user, sr.version)
    assert (sr.status, sr.visit_count, sr.unsolved_visit_count) == ("locked", 2, 2)


def test_locked_is_the_managers(db, make_request, engineer, make_user):
    start = utcnow() - timedelta(days=2)
    sr = make_request(now=start, required_by=start + timedelta(days=1))
    ops.sweep_requests(utcnow())
    dispatcher, manager = make_user("dispatcher"), make_user("manager")
    for action, payload in (("assign", {"engineer_id": engineer.id}), ("cancel", {"reason": "x"})):
        with pytest.raises(Forbidden):
            ops.perform(sr, action, dispatcher, sr.version, **payload)
        db.session.rollback()
    with pytest.raises(Forbidden):
        ops.perform(sr, "unlock", dispatcher, sr.version, reason="x")
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        ops.perform(sr, "unlock", manager, sr.version)  # a reason is required
    db.session.rollback()
    ops.perform(sr, "unlock", manager, sr.version, reason="已与客户重新约定时间")
    assert sr.status == "awaiting_assignment"
    # Unlocked after the required date: the sweep must not lock it again at once.
    assert ops.sweep_requests(utcnow()) == 0
    assert sr.status == "awaiting_assignment"


def test_manager_assigns_a_locked_request(db, make_request, engineer, make_user):
    start = utcnow() - timedelta(days=2)
    sr = make_request(now=start, required_by=start + timedelta(days=1))
    ops.sweep_requests(utcnow())
    ops.perform(sr, "assign", make_user("manager"), sr.version, engineer_id=engineer.id)
    assert sr.status == "assigned"


# ---------------------------------------------------------------- rule 4: the engineer works it


def test_rule4_solved_visit_resolves(db, make_request, engineer, make_user):
    sr = assigned(db, make_request, engineer, make_user)
    visit = ops.record_visit(
        sr, visit_data("resolved", costs=[{"kind": "travel", "amount": 50}]), engineer.user, sr.version
    )
    assert (sr.status, sr.visit_count, visit.outcome) == ("resolved", 1, "resolved")
    assert sr.engineer_id == engineer.id and sr.resolved_at is not None
    assert visit.costs[0].amount == 50


def test_rule4_only_the_assigned_engineer_records_a_visit(
    db, make_request, engineer, make_engineer, make_user
):
    sr = assigned(db, make_request, engineer, make_user)
    other = make_engineer()
    with pytest.raises(Forbidden):
        ops.record_visit(sr, visit_data(), other.user, sr.version)
    db.session.rollback()
    with pytest.raises(Forbidden):
        ops.record_visit(sr, visit_data(), make_user("dispatcher"), sr.version)
    db.session.rollback()
    assert sr.status == "assigned" and sr.visit_count == 0


def test_rule4_unhandled_by_required_date_returns_to_the_pool(db, make_request, engineer, make_user):
    start = utcnow() - timedelta(days=2)
    sr = make_request(now=start, required_by=start + timedelta(days=1))
    ops.perform(
        sr,
        "assign",
        make_user("dispatcher"),
        sr.version,
        engineer_id=engineer.id,
        now=start + timedelta(hours=1),
    )
    ops.sweep_requests(utcnow())
    assert (sr.status, sr.engineer_id) == ("awaiting_assignment", None)
    assert [e.action for e in events(db, sr)] == ["create", "assign", "release"]
    # Returned after its required date, it is not locked at once by rule 3a.
    assert ops.sweep_requests(utcnow()) == 0
    assert sr.status == "awaiting_assignment"


def test_rule4_an_engineer_on_site_is_not_released(db, make_request, engineer, make_user):
    start = utcnow() - timedelta(days=2)
    sr = make_request(now=start, required_by=start + timedelta(days=1))
    ops.perform(
        sr,
        "assign",
        make_user("dispatcher"),
        sr.version,
        engineer_id=engineer.id,
        now=start + timedelta(hours=1),
    )
    ops.perform(sr, "arrive", engineer.user, sr.version, now=start + timedelta(hours=3))
    ops.sweep_requests(utcnow())
    assert sr.status == "assigned"


def test_visit_with_bad_data_changes_nothing(db, make_request, engineer, make_user):
    sr = assigned(db, make_request, engineer, make_user)
    version = sr.version
    bad = visit_data(outcome="maybe", labour_hours=-1, signature="data:text/plain;base64,aGk=")
    with pytest.raises(ValidationFailed) as info:
        ops.record_visit(sr, bad, engineer.user, version)
    assert {"outcome", "labour_hours"} <= set(info.value.fields)
    db.session.rollback()
    assert (sr.status, sr.version, sr.visit_count) == ("assigned", version, 0)


def test_visit_replayed_with_the_same_op_id_records_once(db, make_request, engineer, make_user):
    sr = assigned(db, make_request, engineer, make_user)
    first = ops.record_visit(sr, visit_data(client_op_id="op-1"), engineer.user)
    again = ops.record_visit(sr, visit_data(client_op_id="op-1"), engineer.user)
    assert first.id == again.id and sr.visit_count == 1


# ---------------------------------------------------------------- rule 5: callback


def resolved(db, make_request, engineer, make_user):
    sr = assigned(db, make_request, engineer, make_user)
    ops.record_visit(sr, visit_data(), engineer.user, sr.version)
    db.session.commit()
    return sr


def test_rule5_satisfied_closes_the_loop(db, make_request, engineer, make_user):
    sr = resolved(db, make_request, engineer, make_user)
    ops.perform(
        sr,
        "revisit",
        make_user("callback"),
        sr.version,
        satisfied=True,
        scores={"timeliness": 5, "attitude": 5, "quality": 4},
    )
    assert sr.status == "revisited" and sr.closed_at is not None
    survey = db.session.scalar(sa.select(Survey))
    assert (survey.satisfied, survey.quality) == (True, 4)


def test_rule5_not_satisfied_runs_the_loop_again(db, make_request, engineer, make_user):
    sr = resolved(db, make_request, engineer, make_user)
    ops.perform(sr, "revisit", make_user("callback"), sr.version, satisfied=False, comment="又漏水了")
    assert (sr.status, sr.engineer_id) == ("awaiting_assignment", None)
    event = events(db, sr)[-1]
    assert (event.action, event.to_status, event.note) == ("revisit", "awaiting_assignment", "又漏水了")


def test_rule5_only_callback_or_manager_revisit(db, make_request, engineer, make_user):
    sr = resolved(db, make_request, engineer, make_user)
    for role in ("dispatcher", "engineer"):
        with pytest.raises(Forbidden):
            ops.perform(sr, "revisit", make_user(role), sr.version, satisfied=True)
        db.session.rollback()
    ops.perform(sr, "revisit", make_user("manager"), sr.version, satisfied=True)
    assert sr.status == "revisited"


def test_rule5_close_unreachable_closes_without_a_survey(
    db, make_request, engineer, make_user, api_as, console_as
):
    sr = resolved(db, make_request, engineer, make_user)
    for role in ("dispatcher", "engineer"):
        with pytest.raises(Forbidden):
            ops.perform(sr, "close_unreachable", make_user(role), sr.version, reason="打不通")
        db.session.rollback()
    with pytest.raises(ValidationFailed) as refused:
        ops.perform(sr, "close_unreachable", make_user("callback"), sr.version, reason="  ")
    assert "reason" in refused.value.fields
    db.session.rollback()
    ops.perform(sr, "close_unreachable", make_user("callback"), sr.version, reason="三次未接通", attempts=3)
    db.session.commit()
    assert (sr.status, sr.closed_at is not None) == ("revisited", True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 0
    event = events(db, sr)[-1]
    assert (event.action, event.from_status, event.to_status, event.note) == (
        "close_unreachable",
        "resolved",
        "revisited",
        "三次未接通",
    )
    assert event.data == {"unreachable": True, "attempts": 3}
    # Not an API action nor a console button: only the callback desk's operation takes it.
    assert "close_unreachable" not in ACTIONS
    assert "close_unreachable" not in ops.allowed_actions(sr, make_user("manager"))
    manager = api_as("manager")
    assert manager.post(f"/api/v1/requests/{sr.id}/close_unreachable", json={"version": 9}).status_code == 404
    page = console_as("manager").get(f"/requests/{sr.id}?lang=en").get_data(as_text=True)
    assert "Closed: customer unreachable" in page and 'data-testid="event-unreachable"' in page


def test_revisit_scores_are_1_to_5(db, make_request, engineer, make_user):
    sr = resolved(db, make_request, engineer, make_user)
    with pytest.raises(ValidationFailed):
        ops.perform(sr, "revisit", make_user("callback"), sr.version, satisfied=True, scores={"quality": 9})


# ---------------------------------------------------------------- rule 6 and the other actions


def test_rule6_every_change_is_one_event_with_who_when_from_to_why(db, make_request, engineer, make_user):
    sr = resolved(db, make_request, engineer, make_user)
    ops.perform(
        sr, "revisit", make_user("callback", name="王回访"), sr.version, satisfied=False, comment="不满意"
    )
    timeline = events(db, sr)
    assert [e.action for e in timeline] == ["create", "assign", "visit", "revisit"]
    assert [(e.from_status, e.to_status) for e in timeline] == [
        (None, "awaiting_assignment"),
        ("awaiting_assignment", "assigned"),
        ("assigned", "resolved"),
        ("resolved", "awaiting_assignment"),
    ]
    assert timeline[-1].actor_label == "王回访" and timeline[-1].at is not None


def test_cancel_needs_a_reason_and_closes(db, make_request, make_user):
    sr = make_request()
    dispatcher = make_user("dispatcher")
    with pytest.raises(ValidationFailed):
        ops.perform(sr, "cancel", dispatcher, sr.version, reason="  ")
    db.session.rollback()
    ops.perform(sr, "cancel", dispatcher, sr.version, reason="客户重复报修")
    assert (sr.status, sr.cancel_reason) == ("cancelled", "客户重复报修")
    with pytest.raises(Conflict):
        ops.perform(sr, "cancel", dispatcher, sr.version, reason="again")


def test_resolved_cannot_be_cancelled(db, make_request, engineer, make_user):
    sr = resolved(db, make_request, engineer, make_user)
    with pytest.raises(Conflict):
        ops.perform(sr, "cancel", make_user("manager"), sr.version, reason="x")


def test_urge_flags_and_records_without_a_state_change(db, make_request, engineer):
    sr = make_request()
    version = sr.version
    ops.perform(sr, "urge", None, None, note="客户扫码催单")
    ops.perform(sr, "urge", engineer.user, None)
    assert (sr.status, sr.urged, sr.urge_count) == ("awaiting_assignment", True, 2)
    assert sr.version == version + 2
    urges = [e for e in events(db, sr) if e.action == "urge"]
    assert (
        urges[0].actor_label == "customer"
        and urges[0].from_status == urges[0].to_status == "awaiting_assignment"
    )


def test_closed_requests_cannot_be_urged(db, make_request, make_user):
    sr = make_request()
    ops.perform(sr, "cancel", make_user("dispatcher"), sr.version, reason="x")
    with pytest.raises(Conflict):
        ops.perform(sr, "urge", None, None)


def test_stale_version_changes_nothing(db, make_request, make_user, engineer):
    sr = make_request()
    old = sr.version
    ops.perform(sr, "suspend", make_user("dispatcher"), old)
    db.session.commit()
    with pytest.raises(Conflict) as info:
        ops.perform(sr, "resume", make_user("dispatcher"), old)
    assert info.value.code == "stale_version"
    db.session.rollback()
    assert sr.status == "suspended" and len(events(db, sr)) == 2


def test_engineer_hand_back(db, make_request, engineer, make_user):
    sr = assigned(db, make_request, engineer, make_user)
    ops.perform(sr, "hand_back", engineer.user, sr.version, reason="车辆故障")
    assert (sr.status, sr.engineer_id) == ("awaiting_assignment", None)


def test_allowed_actions_per_role_and_state(db, make_request, engineer, make_engineer, make_user):
    sr = make_request()
    assert ops.allowed_actions(sr, make_user("dispatcher")) == ["assign", "suspend", "cancel", "urge"]
    assert ops.allowed_actions(sr, engineer.user) == ["claim", "urge"]
    assert "claim" not in ops.allowed_actions(sr, make_engineer(skills=["hvac"]).user)
    assert ops.allowed_actions(sr, make_user("callback")) == ["urge"]
    ops.perform(sr, "assign", make_user("dispatcher"), sr.version, engineer_id=engineer.id)
    assert set(ops.allowed_actions(sr, engineer.user)) == {"urge", "accept", "depart", "arrive", "hand_back"}
