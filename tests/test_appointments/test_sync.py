"""The sync op `appointment` (API.md): the engineer books or changes a window offline; a conflict is a rejected op
naming the other job; the pulled jobs carry their appointment."""

from datetime import UTC

from fieldservice.appointments import operations as appts
from tests.test_appointments.conftest import window
from tests.test_sync.conftest import op


def _payload(day, start, end, **kw):
    a, b = window(day, start, end)
    return {"start": a.isoformat(), "end": b.isoformat(), **kw}


def push(phone, ops):
    response = phone.post("/api/v1/sync", json={"ops": ops})
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_the_engineer_books_offline_and_the_job_carries_the_window(db, api_as, assigned, engineer, day):
    sr = assigned()
    phone = api_as(user=engineer.user)
    (result,) = push(phone, [op("appointment", sr.id, _payload(day, "09:00", "10:00", note="已电话确认"))])
    assert result["status"] == "applied", result
    assert result["result"]["appointment"]["status"] == "booked"
    jobs = phone.get("/api/v1/sync").json["jobs"]
    assert jobs[0]["appointment"]["start"] == window(day, "09:00", "10:00")[0].astimezone(UTC).isoformat()


def test_a_replayed_op_books_once(db, api_as, assigned, engineer, day):
    sr = assigned()
    phone = api_as(user=engineer.user)
    booking = op("appointment", sr.id, _payload(day, "09:00", "10:00"))
    push(phone, [booking])
    (again,) = push(phone, [booking])
    assert again["status"] == "duplicate"
    assert len(appts.history(sr.id)) == 1


def test_a_conflict_is_a_rejected_op_naming_the_other_job(db, api_as, assigned, engineer, day):
    first, second = assigned(), assigned()
    phone = api_as(user=engineer.user)
    results = push(
        phone,
        [
            op("appointment", first.id, _payload(day, "09:00", "10:00")),
            op("appointment", second.id, _payload(day, "09:30", "10:30")),
        ],
    )
    assert [r["status"] for r in results] == ["applied", "rejected"]
    error = results[1]["error"]
    assert error["code"] == "double_booked"
    assert error["other_job"] == {"id": first.id, "number": first.number}
    assert "advice" in error
    assert appts.current_appointment(second.id) is None


def test_a_change_offline_needs_a_reason(db, api_as, assigned, engineer, day):
    sr = assigned()
    phone = api_as(user=engineer.user)
    results = push(
        phone,
        [
            op("appointment", sr.id, _payload(day, "09:00", "10:00")),
            op("appointment", sr.id, _payload(day, "14:00", "15:00")),
        ],
    )
    assert results[1]["status"] == "rejected" and results[1]["error"]["code"] == "reason_required"
    (changed,) = push(phone, [op("appointment", sr.id, _payload(day, "14:00", "15:00", reason="客户改下午"))])
    assert changed["status"] == "applied", changed
    assert changed["result"]["appointment"]["reschedules"] == 1


def test_an_engineer_id_in_the_payload_is_refused(db, api_as, assigned, engineer, make_engineer, day):
    sr = assigned()
    other = make_engineer()
    phone = api_as(user=engineer.user)
    (result,) = push(phone, [op("appointment", sr.id, _payload(day, "09:00", "10:00", engineer_id=other.id))])
    assert result["status"] == "rejected" and result["error"]["code"] == "validation_failed"


def test_another_engineers_job_is_not_booked(db, api_as, assigned, make_engineer, day):
    sr = assigned()
    stranger = make_engineer()
    (result,) = push(api_as(user=stranger.user), [op("appointment", sr.id, _payload(day, "09:00", "10:00"))])
    assert result["status"] == "rejected"
    assert appts.current_appointment(sr.id) is None


def test_one_batch_books_then_arrives_and_the_window_is_kept(db, api_as, assigned, engineer, day):
    """The batch reads the jobs' windows once before its ops: a window booked by an earlier op of the same batch
    is still the one that arriving keeps, and a job booked before the batch is kept by its own arrive."""
    booked_before, booked_in_batch = assigned(), assigned()
    phone = api_as(user=engineer.user)
    push(phone, [op("appointment", booked_before.id, _payload(day, "09:00", "10:00"))])
    results = push(
        phone,
        [
            op("appointment", booked_in_batch.id, _payload(day, "14:00", "15:00")),
            op("arrive", booked_in_batch.id, {}),
            op("arrive", booked_before.id, {}),
        ],
    )
    assert [r["status"] for r in results] == ["applied"] * 3, results
    assert appts.current_appointment(booked_in_batch.id).status == "kept"
    assert appts.current_appointment(booked_before.id).status == "kept"
