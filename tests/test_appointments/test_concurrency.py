"""Ten dispatchers booking overlapping windows for one engineer at once, on real PostgreSQL: exactly one wins."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice.appointments import operations as appts
from fieldservice.appointments.models import Appointment
from fieldservice.core.errors import Conflict
from tests.test_appointments.conftest import window

pytestmark = pytest.mark.postgres


def test_ten_overlapping_bookings_for_one_engineer_one_wins(app, db, assigned, make_user, engineer, day):
    from fieldservice.auth.models import User
    from fieldservice.requests.models import ServiceRequest

    # Ids read here: the threads must not load the main session's expired objects.
    requests = [assigned().id for _ in range(10)]
    dispatchers = [make_user("dispatcher").id for _ in range(10)]
    windows = [window(day, f"09:{i * 5:02d}", f"10:{i * 5:02d}") for i in range(10)]  # all overlap
    barrier = threading.Barrier(10)
    results = [None] * 10

    def attempt(i):
        with app.app_context():
            try:
                user = db.session.get(User, dispatchers[i])
                sr = db.session.get(ServiceRequest, requests[i])
                barrier.wait(5)
                start, end = windows[i]
                appts.book_appointment(sr, {"start": start, "end": end}, user)
                db.session.commit()
                results[i] = "won"
            except Conflict as exc:
                db.session.rollback()
                results[i] = exc.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results.count("won") == 1, results
    assert all(r == "double_booked" for r in results if r != "won"), results
    db.session.expire_all()
    booked = db.session.scalars(sa.select(Appointment).where(Appointment.status == "booked")).all()
    assert len(booked) == 1
