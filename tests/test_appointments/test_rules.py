"""The appointment rules one by one (DOMAIN.md "Appointments"), through the operations."""

from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from fieldservice.appointments import operations as appts
from fieldservice.appointments.models import Appointment
from fieldservice.core.errors import Conflict, Forbidden, ValidationFailed
from fieldservice.engineers.models import EngineerLeave
from fieldservice.requests import operations as ops
from fieldservice.requests.models import RequestEvent
from tests.test_appointments.conftest import window
from tests.test_requests.conftest import visit_data


def _book(sr, actor, start, end, **kw):
    result = appts.book_appointment(sr, {"start": start, "end": end, **kw}, actor)
    return result


def _actions(db, sr):
    return db.session.scalars(
        sa.select(RequestEvent.action).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.id)
    ).all()


def _rows(db, sr):
    return db.session.scalars(
        sa.select(Appointment).where(Appointment.request_id == sr.id).order_by(Appointment.id)
    ).all()


def test_the_dispatcher_books_an_assigned_request(db, assigned, make_user, engineer, day):
    sr = assigned()
    start, end = window(day, "09:00", "11:00")
    sr, warnings = _book(sr, make_user("dispatcher"), start, end, note="请先电话联系")
    db.session.commit()
    assert warnings == []
    current = appts.current_appointment(sr.id)
    assert appts.as_dict(current) == {
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
        "status": "booked",
        "engineer_id": engineer.id,
        "reschedules": 0,
        "change_requested": False,
    }
    event = db.session.scalars(sa.select(RequestEvent).where(RequestEvent.action == "appointment_booked")).one()
    assert event.data["start"] == start.astimezone(UTC).isoformat() and event.data["engineer_name"] == engineer.name


def test_with_an_engineer_an_unassigned_request_is_assigned_and_booked_in_one_step(
    db, make_request, make_user, engineer, day
):
    sr = make_request(required_by=window(day, "17:00", "18:00")[0] + timedelta(days=5), priority=4)
    sr, _ = _book(sr, make_user("dispatcher"), *window(day, "14:00", "15:00"), engineer_id=engineer.id)
    db.session.commit()
    assert sr.status == "assigned" and sr.engineer_id == engineer.id
    assert _actions(db, sr)[-2:] == ["assign", "appointment_booked"]


def test_an_unassigned_request_without_an_engineer_is_refused(db, make_request, make_user, day):
    sr = make_request()
    with pytest.raises(ValidationFailed) as exc:
        _book(sr, make_user("dispatcher"), *window(day, "09:00", "10:00"))
    assert "engineer_id" in exc.value.fields


def test_the_assigned_engineer_books_their_own_job_and_nobody_else_does(
    db, assigned, engineer, make_engineer, make_user, day
):
    sr = assigned()
    other = make_engineer()
    with pytest.raises(Forbidden):
        _book(sr, other.user, *window(day, "09:00", "10:00"))
    with pytest.raises(Forbidden):
        _book(sr, make_user("callback"), *window(day, "09:00", "10:00"))
    db.session.rollback()
    sr, _ = _book(sr, engineer.user, *window(day, "09:00", "10:00"))
    db.session.commit()
    assert _rows(db, sr)[0].set_by_id == engineer.user_id


def test_the_window_lies_inside_the_engineers_shift(db, assigned, make_user, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    for times in (("07:00", "09:00"), ("17:00", "18:00"), ("19:00", "20:00")):
        with pytest.raises(ValidationFailed) as exc:
            _book(sr, dispatcher, *window(day, *times))
        assert exc.value.code == "outside_shift"
    saturday = day + timedelta(days=6 - day.isoweekday())
    with pytest.raises(ValidationFailed) as exc:
        _book(sr, dispatcher, *window(saturday, "10:00", "11:00"))
    assert exc.value.code == "outside_shift"
    assert _rows(db, sr) == []


def test_not_while_the_engineer_is_on_leave(db, assigned, engineer, make_user, day):
    sr = assigned()
    start, end = window(day, "13:00", "17:00")
    db.session.add(EngineerLeave(engineer_id=engineer.id, starts_at=start, ends_at=end, reason="体检"))
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        _book(sr, make_user("dispatcher"), *window(day, "12:00", "13:30"))
    assert exc.value.code == "on_leave"
    sr, _ = _book(sr, make_user("dispatcher"), *window(day, "10:00", "12:00"))
    assert appts.current_appointment(sr.id).status == "booked"


def test_past_the_due_time_it_warns_and_books(db, make_request, make_user, engineer, day):
    sr = make_request(required_by=window(day, "10:00", "11:00")[0], priority=4)
    ops.perform(sr, "assign", make_user("dispatcher"), engineer_id=engineer.id)
    sr, warnings = _book(sr, make_user("dispatcher"), *window(day, "14:00", "15:00"))
    db.session.commit()
    assert [w["code"] for w in warnings] == ["past_required_by"]
    assert appts.current_appointment(sr.id).status == "booked"
    assert _rows(db, sr)[0].status == "booked"


def test_an_overlapping_window_of_the_same_engineer_is_double_booked(db, assigned, make_user, day):
    first, second = assigned(), assigned()
    dispatcher = make_user("dispatcher")
    _book(first, dispatcher, *window(day, "09:00", "11:00"))
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        _book(second, dispatcher, *window(day, "10:30", "12:00"))
    assert exc.value.code == "double_booked"
    assert exc.value.fields == {"request_id": first.id}
    db.session.rollback()
    assert _rows(db, second) == []


def test_travel_between_the_customers_counts(db, assigned, make_customer, make_user, day):
    """Two customers 20 km apart at 30 km/h: 40 minutes between the windows; the same building: none."""
    dispatcher = make_user("dispatcher")
    home = make_customer(lat=31.2000, lng=121.5000)
    far = make_customer(lat=31.2000 + 20 / 111.2, lng=121.5000)  # 20 km north
    near = make_customer(lat=31.2000, lng=121.5000)
    first = assigned(customer=home)
    _book(first, dispatcher, *window(day, "09:00", "10:00"))
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        _book(assigned(customer=far), dispatcher, *window(day, "10:30", "11:30"))
    assert exc.value.code == "double_booked"
    db.session.rollback()
    _book(assigned(customer=far), dispatcher, *window(day, "10:45", "11:45"))
    _book(assigned(customer=near), dispatcher, *window(day, "08:30", "09:00"))
    db.session.commit()


def test_another_engineer_is_not_double_booked(db, assigned, make_engineer, make_user, day):
    dispatcher = make_user("dispatcher")
    _book(assigned(), dispatcher, *window(day, "09:00", "11:00"))
    _book(assigned(to=make_engineer()), dispatcher, *window(day, "09:00", "11:00"))
    db.session.commit()


def test_a_change_needs_a_reason_and_counts_as_a_reschedule(db, assigned, make_user, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    _book(sr, dispatcher, *window(day, "09:00", "10:00"))
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        _book(sr, dispatcher, *window(day, "13:00", "14:00"))
    assert exc.value.code == "reason_required"
    db.session.rollback()
    _book(sr, dispatcher, *window(day, "13:00", "14:00"), reason="客户下午在家")
    db.session.commit()
    old, new = _rows(db, sr)
    assert (old.status, new.status, new.reschedules, new.reason) == ("cancelled", "booked", 1, "客户下午在家")
    assert _actions(db, sr)[-1] == "appointment_changed"
    assert appts.as_dict(appts.current_appointment(sr.id))["reschedules"] == 1


def test_the_same_window_again_changes_nothing(db, assigned, make_user, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    _book(sr, dispatcher, *window(day, "09:00", "10:00"))
    _book(sr, dispatcher, *window(day, "09:00", "10:00"))
    db.session.commit()
    assert len(_rows(db, sr)) == 1


def test_moving_ones_own_window_is_no_overlap(db, assigned, make_user, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    _book(sr, dispatcher, *window(day, "09:00", "10:00"))
    _book(sr, dispatcher, *window(day, "09:30", "10:30"), reason="晚半小时")
    db.session.commit()
    assert appts.current_appointment(sr.id).reschedules == 1


def test_arriving_keeps_it(db, assigned, engineer, make_user, day):
    sr = assigned()
    _book(sr, make_user("dispatcher"), *window(day, "09:00", "10:00"))
    ops.perform(sr, "arrive", engineer.user)
    db.session.commit()
    assert appts.current_appointment(sr.id).status == "kept"
    assert _actions(db, sr)[-2:] == ["arrive", "appointment_kept"]


def test_a_visit_recorded_without_the_arrive_step_keeps_it(db, assigned, engineer, make_user, day):
    sr = assigned()
    _book(sr, make_user("dispatcher"), *window(day, "09:00", "10:00"))
    ops.record_visit(sr, visit_data(), engineer.user)
    db.session.commit()
    assert appts.current_appointment(sr.id).status == "kept"


@pytest.mark.parametrize(
    "action,who,payload",
    [("hand_back", "engineer", {"reason": "缺配件"}), ("cancel", "dispatcher", {"reason": "客户取消"})],
)
def test_letting_go_of_the_job_or_cancelling_cancels_it(db, assigned, engineer, make_user, day, action, who, payload):
    sr = assigned()
    _book(sr, make_user("dispatcher"), *window(day, "09:00", "10:00"))
    actor = engineer.user if who == "engineer" else make_user("dispatcher")
    ops.perform(sr, action, actor, **payload)
    db.session.commit()
    assert appts.current_appointment(sr.id).status == "cancelled"
    assert "appointment_cancelled" in _actions(db, sr)


def test_reassigning_after_a_hand_back_books_afresh(db, assigned, engineer, make_engineer, make_user, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    _book(sr, dispatcher, *window(day, "09:00", "10:00"))
    ops.perform(sr, "hand_back", engineer.user, reason="缺配件")
    other = make_engineer()
    _book(sr, dispatcher, *window(day, "09:00", "10:00"), engineer_id=other.id)
    db.session.commit()
    rows = _rows(db, sr)
    assert [(r.status, r.engineer_id, r.reschedules) for r in rows] == [
        ("cancelled", engineer.id, 0),
        ("booked", other.id, 0),
    ]


def test_the_sweep_marks_a_window_missed_thirty_minutes_after_it_ends(db, assigned, make_user, day):
    sr = assigned()
    start, end = window(day, "09:00", "10:00")
    _book(sr, make_user("dispatcher"), start, end)
    db.session.commit()
    assert appts.sweep_appointments(end + timedelta(minutes=29)) == 0
    assert appts.sweep_appointments(end + timedelta(minutes=30)) == 1
    db.session.commit()
    assert appts.sweep_appointments(end + timedelta(minutes=31)) == 0
    assert appts.current_appointment(sr.id).status == "missed"
    assert _actions(db, sr)[-1] == "appointment_missed"


def test_the_core_sweep_runs_the_appointments_rule(db, assigned, make_user, day):
    from fieldservice.core.sweep import run_sweep

    sr = assigned()
    start, end = window(day, "09:00", "10:00")
    _book(sr, make_user("dispatcher"), start, end)
    db.session.commit()
    assert run_sweep(end + timedelta(hours=1))["appointments"] == 1


def test_a_window_that_is_over_or_reversed_is_refused(db, assigned, make_user, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    start, end = window(day, "10:00", "09:00")
    with pytest.raises(ValidationFailed) as exc:
        _book(sr, dispatcher, start, end)
    assert "end" in exc.value.fields
    past = window(day - timedelta(days=7), "09:00", "10:00")
    with pytest.raises(ValidationFailed) as exc:
        _book(sr, dispatcher, *past)
    assert "start" in exc.value.fields


def test_the_customer_asks_for_another_window(db, assigned, make_user, day):
    sr = assigned()
    with pytest.raises(Conflict):
        appts.ask_for_another_window(sr, "下午可以吗")
    db.session.rollback()
    _book(sr, make_user("dispatcher"), *window(day, "09:00", "10:00"))
    appts.ask_for_another_window(sr, "下午可以吗")
    db.session.commit()
    current = appts.current_appointment(sr.id)
    assert current.status == "booked" and current.change_request_note == "下午可以吗"
    assert appts.as_dict(current)["change_requested"] is True
    assert _actions(db, sr)[-1] == "appointment_change_asked"


def test_booking_again_after_a_missed_window_is_a_reschedule(db, assigned, make_user, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    start, end = window(day, "09:00", "10:00")
    _book(sr, dispatcher, start, end)
    db.session.commit()
    appts.sweep_appointments(end + timedelta(hours=1))
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        _book(sr, dispatcher, *window(day, "14:00", "15:00"))
    assert exc.value.code == "reason_required"
    db.session.rollback()
    _book(sr, dispatcher, *window(day, "14:00", "15:00"), reason="客户上午不在家")
    db.session.commit()
    assert [(r.status, r.reschedules) for r in _rows(db, sr)] == [("missed", 0), ("booked", 1)]
    assert _actions(db, sr)[-1] == "appointment_changed"
