"""The PWA in real Chromium: the engineer books a window offline; it syncs when back online; jobs in window order."""

import time

import pytest

from fieldservice.appointments import operations as appts
from tests.test_appointments.conftest import window
from tests.test_sync import conftest as sync_fixtures
from tests.test_sync.conftest import log_in, wait_pending

pytestmark = pytest.mark.browser

context = sync_fixtures.context


def test_the_engineer_books_offline_and_it_syncs(db, context, live_server, assigned, make_user, engineer, day):
    later, first = assigned(), assigned()
    # Booked on the server: the job with a window comes first, whatever the due dates.
    appts.book_appointment(later, dict(zip(("start", "end"), window(day, "15:00", "16:00"), strict=True)), make_user())
    db.session.commit()
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.wait_for_selector(f"[data-job='{later.id}'] .appointment")
    order = page.eval_on_selector_all("[data-job]", "cards => cards.map(c => Number(c.dataset.job))")
    assert order[0] == later.id

    context.set_offline(True)
    page.click(f"[data-job='{first.id}']")
    page.fill("#appointment-form input[name=day]", day.isoformat())
    page.fill("#appointment-form input[name=start]", "09:00")
    page.fill("#appointment-form input[name=end]", "10:30")
    page.fill("#appointment-note", "已电话联系客户")
    page.click("#book-appointment")
    wait_pending(page, 1)
    assert appts.current_appointment(first.id) is None

    context.set_offline(False)
    page.click("#sync-now")
    wait_pending(page, 0)
    deadline = time.monotonic() + 20
    while (current := appts.current_appointment(first.id)) is None and time.monotonic() < deadline:
        db.session.rollback()
        page.wait_for_timeout(200)
    assert current is not None and current.starts_at == window(day, "09:00", "10:30")[0]
    assert current.note == "已电话联系客户"
    page.click("text=‹")
    page.wait_for_selector(f"[data-job='{first.id}'] .appointment")
    order = page.eval_on_selector_all("[data-job]", "cards => cards.map(c => Number(c.dataset.job))")
    assert order == [first.id, later.id]
