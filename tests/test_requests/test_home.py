"""The home page shows each role its work today: the dispatcher's queue, the manager's locked and overdue requests."""

import re
from datetime import timedelta

from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops


def _panel(page: str, name: str) -> str:
    match = re.search(rf'<section class="card" data-testid="{name}".*?</section>', page, re.S)
    return match.group(0) if match else ""


def test_the_dispatcher_sees_the_queue_most_urgent_first(db, console_as, make_request):
    later = make_request(required_by=utcnow() + timedelta(days=3))
    sooner = make_request(required_by=utcnow() + timedelta(hours=5))
    page = console_as("dispatcher").get("/home").get_data(as_text=True)
    queue = _panel(page, "home-queue")
    assert queue and queue.index(sooner.number) < queue.index(later.number)
    assert _panel(page, "home-locked") == ""  # locked requests are the manager's


def test_the_manager_sees_locked_and_overdue_requests(db, console_as, make_request):
    start = utcnow() - timedelta(days=2)
    locked = make_request(now=start, required_by=start + timedelta(days=1))
    ops.sweep_requests(utcnow())
    db.session.commit()
    calm = make_request(required_by=utcnow() + timedelta(days=3))
    assert locked.status == "locked"
    page = console_as("manager").get("/home").get_data(as_text=True)
    panel = _panel(page, "home-locked")
    assert locked.number in panel and calm.number not in panel


def test_an_engineer_gets_no_dispatch_queue(db, console_as, make_request):
    make_request()
    page = console_as("engineer").get("/home").get_data(as_text=True)
    assert _panel(page, "home-queue") == "" and _panel(page, "home-locked") == ""
