"""API.md "Appointments and the schedule" through the Flask client: shapes, roles, conflicts, errors."""

from datetime import UTC

import pytest

from fieldservice.requests.models import ServiceRequest
from tests.test_appointments.conftest import window


def version_of(db, sr):
    db.session.expire_all()
    return db.session.get(ServiceRequest, sr.id).version


def body(db, sr, start, end, **kw):
    return {"version": version_of(db, sr), "start": start.isoformat(), "end": end.isoformat(), **kw}


def test_booking_answers_the_request_with_its_appointment(db, api_as, assigned, engineer, day):
    sr = assigned()
    start, end = window(day, "09:00", "11:00")
    response = api_as("dispatcher").post(f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, start, end))
    assert response.status_code == 200, response.json
    assert response.json["id"] == sr.id
    assert response.json["warnings"] == []
    assert response.json["appointment"] == {
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
        "status": "booked",
        "engineer_id": engineer.id,
        "reschedules": 0,
        "change_requested": False,
    }
    detail = api_as("manager").get(f"/api/v1/requests/{sr.id}").json
    assert detail["appointment"]["status"] == "booked"


def test_a_local_time_without_an_offset_is_site_time(db, api_as, assigned, day):
    sr = assigned()
    start, end = window(day, "09:00", "10:00")
    payload = body(db, sr, start, end) | {"start": f"{day}T09:00", "end": f"{day}T10:00"}
    response = api_as("dispatcher").post(f"/api/v1/requests/{sr.id}/appointment", json=payload)
    assert response.status_code == 200, response.json
    assert response.json["appointment"]["start"] == start.astimezone(UTC).isoformat()


def test_a_request_without_an_appointment_says_null(db, api_as, assigned):
    sr = assigned()
    assert api_as("dispatcher").get(f"/api/v1/requests/{sr.id}").json["appointment"] is None


def test_unassigned_with_engineer_id_assigns_and_books(db, api_as, make_request, engineer, day):
    sr = make_request(required_by=window(day, "20:00", "21:00")[0])
    start, end = window(day, "14:00", "15:00")
    response = api_as("dispatcher").post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, start, end, engineer_id=engineer.id)
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "assigned" and response.json["engineer_id"] == engineer.id


def test_double_booked_answers_409_naming_the_other_request(db, api_as, assigned, day):
    first, second = assigned(), assigned()
    dispatcher = api_as("dispatcher")
    assert (
        dispatcher.post(
            f"/api/v1/requests/{first.id}/appointment", json=body(db, first, *window(day, "09:00", "11:00"))
        ).status_code
        == 200
    )
    response = dispatcher.post(
        f"/api/v1/requests/{second.id}/appointment", json=body(db, second, *window(day, "10:00", "12:00"))
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "double_booked"
    assert response.json["error"]["fields"] == {"request_id": first.id}


def test_a_change_without_a_reason_is_422_and_with_one_a_reschedule(db, api_as, assigned, day):
    sr = assigned()
    dispatcher = api_as("dispatcher")
    dispatcher.post(f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "09:00", "10:00")))
    response = dispatcher.post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "13:00", "14:00"))
    )
    assert response.status_code == 422
    assert "reason" in response.json["error"]["fields"]
    response = dispatcher.post(
        f"/api/v1/requests/{sr.id}/appointment",
        json=body(db, sr, *window(day, "13:00", "14:00"), reason="客户改到下午"),
    )
    assert response.status_code == 200
    assert response.json["appointment"]["reschedules"] == 1


def test_a_stale_version_is_409(db, api_as, assigned, day):
    sr = assigned()
    payload = body(db, sr, *window(day, "09:00", "10:00")) | {"version": 1}
    response = api_as("dispatcher").post(f"/api/v1/requests/{sr.id}/appointment", json=payload)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "stale_version"


def test_outside_the_shift_is_422_and_past_due_a_warning(db, api_as, make_request, make_user, engineer, day):
    from fieldservice.requests import operations as ops

    sr = make_request(required_by=window(day, "09:00", "10:00")[0], priority=4)
    ops.perform(sr, "assign", make_user("dispatcher"), engineer_id=engineer.id)
    db.session.commit()
    dispatcher = api_as("dispatcher")
    response = dispatcher.post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "06:00", "07:00"))
    )
    assert response.status_code == 422 and response.json["error"]["code"] == "outside_shift"
    response = dispatcher.post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "15:00", "16:00"))
    )
    assert response.status_code == 200
    assert [w["code"] for w in response.json["warnings"]] == ["past_required_by"]


@pytest.mark.parametrize("payload", [{"start": "soon"}, {"end": None}, {"engineer_id": "x"}, {"reason": "x" * 501}])
def test_bad_input_is_422(db, api_as, assigned, day, payload):
    sr = assigned()
    response = api_as("dispatcher").post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "09:00", "10:00")) | payload
    )
    assert response.status_code == 422, response.json


@pytest.mark.parametrize("role,status", [("callback", 403), ("engineer", 404), ("manager", 200), ("admin", 200)])
def test_who_may_book(db, api_as, assigned, day, role, status):
    sr = assigned()
    response = api_as(role).post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "09:00", "10:00"))
    )
    assert response.status_code == status, response.json


def test_the_assigned_engineer_books_their_own_job(db, api_as, assigned, engineer, day):
    sr = assigned()
    response = api_as(user=engineer.user).post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "09:00", "10:00"))
    )
    assert response.status_code == 200, response.json


def test_the_schedule_of_a_day(db, api_as, assigned, engineer, make_engineer, day):
    sr = assigned()
    waiting = assigned(to=make_engineer(zone="徐汇"))
    api_as("dispatcher").post(
        f"/api/v1/requests/{sr.id}/appointment", json=body(db, sr, *window(day, "09:00", "10:00"))
    )
    data = api_as("dispatcher").get(f"/api/v1/schedule?date={day}").json
    rows = {row["id"]: row for row in data["engineers"]}
    mine = rows[engineer.id]
    assert mine["shifts"] == [
        {
            "start": window(day, "08:30", "17:30")[0].astimezone(UTC).isoformat(),
            "end": window(day, "08:30", "17:30")[1].astimezone(UTC).isoformat(),
        }
    ]
    assert [a["request_id"] for a in mine["appointments"]] == [sr.id]
    # API.md's fields, and the request's version (extra fields are allowed): what a board sends back when it moves one.
    assert set(mine["appointments"][0]) == {
        "request_id",
        "number",
        "start",
        "end",
        "status",
        "customer",
        "lat",
        "lng",
        "version",
    }
    assert mine["appointments"][0]["version"] == version_of(db, sr)
    assert [r["id"] for r in data["unscheduled"]] == [waiting.id]
    by_zone = api_as("dispatcher").get(f"/api/v1/schedule?date={day}&zone=徐汇").json
    assert [row["zone"] for row in by_zone["engineers"]] == ["徐汇"]


@pytest.mark.parametrize("query", ["", "date=tomorrow", "date=2026-12-01&days=0", "date=2026-12-01&days=99"])
def test_the_schedule_refuses_bad_queries(api_as, query):
    assert api_as("dispatcher").get(f"/api/v1/schedule?{query}").status_code == 422


def test_the_schedule_is_for_the_desk(api_as):
    assert api_as("engineer").get("/api/v1/schedule?date=2026-12-01").status_code == 403


def test_the_request_list_carries_each_appointment(db, api_as, assigned, day):
    booked, other = assigned(), assigned()
    dispatcher = api_as("dispatcher")
    dispatcher.post(f"/api/v1/requests/{booked.id}/appointment", json=body(db, booked, *window(day, "09:00", "10:00")))
    items = {i["id"]: i for i in dispatcher.get("/api/v1/requests").json["items"]}
    assert items[booked.id]["appointment"]["status"] == "booked"
    assert items[other.id]["appointment"] is None
