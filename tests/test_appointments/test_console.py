"""The appointment on the console's request page: shown, booked, refused on the form, in both languages."""

from fieldservice.appointments import operations as appts
from fieldservice.requests.models import ServiceRequest
from tests.test_appointments.conftest import window


def _form(db, sr, day, start, end, **kw):
    db.session.expire_all()
    version = db.session.get(ServiceRequest, sr.id).version
    return {"version": version, "day": day.isoformat(), "start": start, "end": end, **kw}


def test_the_request_page_offers_the_booking_form(db, console_as, assigned):
    sr = assigned()
    page = console_as("dispatcher").get(f"/requests/{sr.id}").get_data(as_text=True)
    assert 'data-testid="appointment-none"' in page
    assert 'data-testid="appointment-form"' in page
    assert "预约" in page


def test_booking_from_the_page_shows_the_window(db, console_as, assigned, engineer, day):
    sr = assigned()
    c = console_as("dispatcher")
    response = c.post(f"/requests/{sr.id}/appointment", data=_form(db, sr, day, "09:00", "11:00"))
    assert response.status_code == 302, response.get_data(as_text=True)
    page = c.get(f"/requests/{sr.id}").get_data(as_text=True)
    assert 'data-status="booked"' in page
    assert f"{day.isoformat()} 09:00" in page
    assert "已预约" in page
    assert appts.current_appointment(sr.id).engineer_id == engineer.id


def test_a_refusal_shows_on_the_form(db, console_as, assigned, day):
    first, second = assigned(), assigned()
    c = console_as("dispatcher")
    c.post(f"/requests/{first.id}/appointment", data=_form(db, first, day, "09:00", "11:00"))
    response = c.post(f"/requests/{second.id}/appointment", data=_form(db, second, day, "10:00", "12:00"))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'data-testid="appointment-form"' in page
    assert first.number in page
    assert appts.current_appointment(second.id) is None


def test_a_change_without_a_reason_is_refused_on_the_reason_field(db, console_as, assigned, day):
    sr = assigned()
    c = console_as("dispatcher")
    c.post(f"/requests/{sr.id}/appointment", data=_form(db, sr, day, "09:00", "10:00"))
    response = c.post(f"/requests/{sr.id}/appointment", data=_form(db, sr, day, "13:00", "14:00"))
    assert response.status_code == 422
    assert 'data-field="reason"' in response.get_data(as_text=True)
    response = c.post(f"/requests/{sr.id}/appointment", data=_form(db, sr, day, "13:00", "14:00", reason="改下午"))
    assert response.status_code == 302
    assert appts.current_appointment(sr.id).reschedules == 1


def test_a_missing_date_is_a_field_error(db, console_as, assigned, day):
    sr = assigned()
    response = console_as("dispatcher").post(
        f"/requests/{sr.id}/appointment", data=_form(db, sr, day, "09:00", "10:00") | {"day": ""}
    )
    assert response.status_code == 422
    assert 'data-field="day"' in response.get_data(as_text=True)


def test_the_timeline_names_the_appointment_in_both_languages(db, console_as, assigned, make_user, day):
    sr = assigned()
    appts.book_appointment(
        sr, dict(zip(("start", "end"), window(day, "09:00", "10:00"), strict=True)), make_user("dispatcher")
    )
    db.session.commit()
    c = console_as("dispatcher")
    assert "已预约上门" in c.get(f"/requests/{sr.id}").get_data(as_text=True)
    page = c.get(f"/requests/{sr.id}?lang=en").get_data(as_text=True)
    assert "Appointment booked" in page
    assert f'<span data-testid="event-window">{day.isoformat()} 09:00–10:00</span>' in page


def test_the_assigned_engineer_books_without_choosing_an_engineer(db, console_as, assigned, engineer, day):
    sr = assigned()
    c = console_as(user=engineer.user)
    page = c.get(f"/requests/{sr.id}").get_data(as_text=True)
    assert 'data-testid="appointment-form"' in page
    assert 'name="engineer_id"' not in page
    response = c.post(f"/requests/{sr.id}/appointment", data=_form(db, sr, day, "09:00", "10:00"))
    assert response.status_code == 302
    assert appts.current_appointment(sr.id).set_by_id == engineer.user_id


def test_the_request_list_shows_the_booked_window(db, console_as, assigned, make_user, day):
    sr = assigned()
    other = assigned()
    appts.book_appointment(
        sr, dict(zip(("start", "end"), window(day, "09:00", "10:30"), strict=True)), make_user("dispatcher")
    )
    db.session.commit()
    page = console_as("dispatcher").get("/requests").get_data(as_text=True)
    assert f"{day.isoformat()} 09:00–10:30" in page
    assert page.count('data-testid="list-appointment"></td>') == 1  # the other request has none
    assert other.number in page
