"""Fixtures of the sync protocol: an engineer with a phone (bearer token), their jobs, op builders."""

import base64
import io
import uuid
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw

from fieldservice.core.models import utcnow


def png_data_url(width=240, height=80) -> str:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).line([(10, height - 10), (width // 2, 10), (width - 10, height - 20)], fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def op(type_, request_id, payload=None, op_id=None):
    return {
        "op_id": op_id or str(uuid.uuid4()),
        "type": type_,
        "request_id": request_id,
        "payload": payload or {},
        "client_time": utcnow().isoformat(),
    }


def visit_payload(outcome="resolved", **kw):
    now = utcnow()
    data = {
        "outcome": outcome,
        # Jobs in tests are logged a moment ago: the visit cannot start before that.
        "arrived_at": now.isoformat(),
        "finished_at": (now + timedelta(minutes=2)).isoformat(),
        "labour_hours": 1.5,
        "fault": "不出水",
        "cause": "进水电磁阀线圈烧毁",
        "solution": "更换进水电磁阀",
        "costs": [{"kind": "travel", "amount": "30.00"}],
        "signature": png_data_url(),
        "photos": [png_data_url(320, 240)],
    }
    data.update(kw)
    return data


@pytest.fixture
def dispatcher(make_user):
    return make_user("dispatcher")


@pytest.fixture
def engineer(make_engineer):
    return make_engineer(skills=["water_purifier"], name="张师傅")


@pytest.fixture
def phone(api_as, engineer):
    """The engineer's PWA: an API client with the engineer's bearer token."""
    return api_as(user=engineer.user)


@pytest.fixture
def make_job(db, make_equipment, dispatcher):
    """make_job(engineer) -> a request assigned to *engineer* (None: left in the pool)."""
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    if db.session.get(ProblemType, 1) is None:
        db.session.add(ProblemType(code="no_water", name_zh="不出水", name_en="No water", category="repair"))
        db.session.commit()

    def make(engineer=None, **kw):
        equipment = make_equipment()
        data = {
            "customer_id": equipment.customer_id,
            "equipment_id": equipment.id,
            "problem_type": "no_water",
            "description": "净水器不出水，指示灯闪烁",
            "priority": 2,
            "required_by": utcnow() + timedelta(days=1),
        }
        data.update(kw)
        sr = ops.create_request(data, dispatcher)
        db.session.commit()
        if engineer is not None:
            ops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
            db.session.commit()
        return sr

    return make


@pytest.fixture
def job(make_job, engineer):
    return make_job(engineer)


def reassign(db, job, engineer, dispatcher, colleague):
    """Give *job* to *colleague*: back to the pool (as the sweep's rule 4 does), then assigned again."""
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ServiceRequest

    sr = db.session.get(ServiceRequest, job.id)
    ops.perform(sr, "hand_back", engineer.user, None, reason="调度改派")
    db.session.commit()
    sr = db.session.get(ServiceRequest, job.id)
    ops.perform(sr, "assign", dispatcher, sr.version, engineer_id=colleague.id)
    db.session.commit()


# ---------------------------------------------------------------- the PWA in Chromium

BROWSER_TIMEOUT = 20000


@pytest.fixture
def context(browser, live_server):
    """A phone-sized browser context that allows the app's service worker."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, service_workers="allow")
    context.set_default_timeout(BROWSER_TIMEOUT)
    yield context
    context.close()


@pytest.fixture
def plain_context(browser, live_server):
    """A phone-sized context without the service worker: Playwright sees (and can cut or throttle) every request
    the page makes."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, service_workers="block")
    context.set_default_timeout(BROWSER_TIMEOUT)
    yield context
    context.close()


def log_in(page, live_server, engineer, *, worker=True):
    """Log in on the phone; *worker*: wait for the service worker to control the page (not in a plain_context)."""
    page.goto(live_server.url + "/app/")
    # The service worker must control the page before we go offline, or a reload would find nothing; and the
    # app shell must have settled (it renders the login screen after reading IndexedDB), or the form we fill
    # may be replaced by a fresh, empty one.
    if worker:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    else:
        page.wait_for_selector("#login-form")
    page.wait_for_load_state("networkidle")
    page.fill("#username", engineer.user.username)
    page.fill("#password", "password123")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/token")) as answer:
        page.click("#login-form button[type=submit]")
    assert answer.value.status == 200


def wait_pending(page, n: int):
    """Wait until the sync bar counts *n* ops not yet confirmed by the server."""
    page.wait_for_function(f"() => document.querySelector('#pending-count')?.dataset.pending === '{n}'")


def wait_synced(page):
    """Wait for one full sync round (outbox, pull, reference data) started by the sync button."""
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
    page.click("#sync-now")
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'syncing'")
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
