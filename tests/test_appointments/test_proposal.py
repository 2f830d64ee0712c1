"""The engineer's first free window: inside a shift, off leave, clear of booked windows with the drive between."""

from datetime import timedelta

from fieldservice.appointments import operations as appts
from fieldservice.engineers.models import EngineerLeave
from tests.test_appointments.conftest import window

HOUR = timedelta(hours=1)


def test_the_first_slot_skips_the_booked_window(db, assigned, engineer, make_user, day):
    appts.book_appointment(
        assigned(), dict(zip(("start", "end"), window(day, "09:00", "10:00"), strict=True)), make_user()
    )
    db.session.commit()
    # The shift starts at 08:30: an hour from then would run into 09:00.
    assert appts.earliest_free_window(engineer, HOUR, window(day, "06:00", "07:00")[0]) == window(day, "10:00", "11:00")
    # Half an hour fits before it.
    half = timedelta(minutes=30)
    assert appts.earliest_free_window(engineer, half, window(day, "06:00", "07:00")[0]) == window(day, "08:30", "09:00")


def test_the_drive_from_the_last_customer_counts(db, assigned, engineer, make_customer, make_user, day):
    home = make_customer(lat=31.2, lng=121.5)
    far = make_customer(lat=31.2 + 20 / 111.2, lng=121.5)  # 20 km: 40 minutes at 30 km/h
    first = assigned(customer=home)
    appts.book_appointment(first, dict(zip(("start", "end"), window(day, "08:30", "10:00"), strict=True)), make_user())
    db.session.commit()
    proposed = appts.earliest_free_window(engineer, HOUR, window(day, "06:00", "07:00")[0], customer=far)
    assert proposed == window(day, "10:45", "11:45")
    # And the booking rules accept what is proposed.
    sr, _ = appts.book_appointment(
        assigned(customer=far), dict(zip(("start", "end"), proposed, strict=True)), make_user()
    )
    assert appts.current_appointment(sr.id).starts_at == proposed[0]


def test_leave_pushes_it_to_the_next_working_day(db, engineer, day):
    start, _ = window(day, "00:00", "01:00")
    db.session.add(EngineerLeave(engineer_id=engineer.id, starts_at=start, ends_at=start + timedelta(days=1)))
    db.session.commit()
    proposed = appts.earliest_free_window(engineer, HOUR, start)
    next_day = day + timedelta(days=1)
    while next_day.isoweekday() > 5:
        next_day += timedelta(days=1)
    assert proposed == window(next_day, "08:30", "09:30")


def test_the_booking_form_proposes_it(db, console_as, assigned, engineer, day):
    sr = assigned()
    page = console_as("dispatcher").get(f"/requests/{sr.id}").get_data(as_text=True)
    assert 'data-testid="appointment-proposed"' in page
    assert "工程师最早的空闲时段" in page
