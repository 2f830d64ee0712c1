"""The PWA in real Chromium: the incremental knowledge copy, the claim pool, hand back and urge."""

import time

import pytest
import sqlalchemy as sa

from fieldservice.requests.models import RequestEvent, ServiceRequest
from fieldservice.sync.models import AppliedOp
from tests.test_sync.conftest import log_in, wait_pending, wait_synced

pytestmark = pytest.mark.browser

KNOWLEDGE_ON_PHONE = "FS.store.getReference('knowledge').then(items => items.map(e => e.symptom).sort())"


def knowledge_becomes(page, expected: list[str], timeout: float = 20):
    """Poll the phone's knowledge copy (an IndexedDB read is async: wait_for_function would not await it)."""
    deadline = time.monotonic() + timeout
    while (held := page.evaluate(KNOWLEDGE_ON_PHONE)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert held == expected


@pytest.fixture
def make_entry(db, make_user):
    """make_entry(symptom) -> a published water-purifier entry (the engineer's skill), committed."""
    from fieldservice.knowledge import operations as knowledge

    manager = make_user("manager")

    def make(symptom):
        entry = knowledge.create_entry(
            {
                "symptom": symptom,
                "category": "water_purifier",
                "status": "published",
                "causes": [{"description": "滤芯堵塞", "solutions": [{"summary": "更换滤芯", "steps": []}]}],
            },
            manager,
        )
        db.session.commit()
        return entry

    make.manager = manager
    return make


def test_knowledge_copy_is_pulled_incrementally(db, context, live_server, engineer, job, make_entry):
    from fieldservice.knowledge import operations as knowledge

    old = make_entry("出水量小")
    page = context.new_page()
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/knowledge/offline" in r.url else None)
    log_in(page, live_server, engineer)
    knowledge_becomes(page, ["出水量小"])

    # On the server: a new entry is published and the old one archived.
    make_entry("机器漏水")
    knowledge.change_status(old, "archive", make_entry.manager, old.version)
    db.session.commit()

    wait_synced(page)
    knowledge_becomes(page, ["机器漏水"])
    # The first call fetched everything; the later ones sent the cursor back.
    assert "since=" not in asked[0]
    assert asked[-1].split("since=")[1]
    # The visit form offers the new entry with no network.
    context.set_offline(True)
    page.goto(live_server.url + f"/app/#/visit/{job.id}")
    page.wait_for_selector("#fault_id option >> text=机器漏水", state="attached")
    options = page.locator("#fault_id option").all_inner_texts()
    assert any("机器漏水" in o for o in options) and not any("出水量小" in o for o in options)


def test_claim_from_the_pool_offline_and_a_claim_someone_beat(
    db, context, live_server, engineer, make_job, make_engineer
):
    from fieldservice.requests import operations as ops

    first, second = make_job(None), make_job(None)
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.click("#open-pool")
    page.wait_for_selector(f"[data-pool-job='{second.id}']")
    assert page.locator(f"[data-pool-job='{first.id}']").is_visible()
    # The problem type by its name in the phone's language, not its code: once the log-in's first round has stored
    # the reference data (the pool is drawn again after each round; on a busy machine it can first be drawn before).
    card = page.locator(f"[data-pool-job='{first.id}']")
    # The name is looked for where the card puts it (after the customer), not anywhere: the description says 不出水 too.
    page.wait_for_function(
        "(id) => (document.querySelector(`[data-pool-job='${id}']`) || {}).innerText?.includes(' · 不出水')",
        arg=first.id,
    )
    assert first.problem_type not in card.inner_text()

    # Offline, the engineer claims both from the list the phone kept.
    context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    page.click(f"[data-claim='{first.id}']")
    page.click(f"[data-claim='{second.id}']")
    wait_pending(page, 2)
    assert page.locator(f"[data-claim-pending='{second.id}']").is_visible()

    # Meanwhile a colleague claims the second one.
    colleague = make_engineer(skills=["water_purifier"], name="李师傅")
    sr = db.session.get(ServiceRequest, second.id)
    ops.perform(sr, "claim", colleague.user, sr.version)
    db.session.commit()

    context.set_offline(False)
    wait_pending(page, 0)
    page.wait_for_selector("#rejected-count")
    reason = page.locator(".reject-reason")
    assert reason.get_attribute("data-code") == "taken"
    assert sr.number in reason.inner_text()
    db.session.expire_all()
    assert db.session.get(ServiceRequest, first.id).engineer_id == engineer.id
    assert db.session.get(ServiceRequest, second.id).engineer_id == colleague.id
    statuses = dict(db.session.execute(sa.select(AppliedOp.request_id, AppliedOp.status)).all())
    assert statuses == {first.id: "applied", second.id: "rejected"}

    # The claimed job is now on the phone's list; the refused claim goes once the engineer discards it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-discard]")
    page.wait_for_selector("#rejected-count", state="detached")
    # The round that sent the claims may still be pulling (the reference data, the knowledge, the pool) on a busy
    # machine: once a round has run to its end, the list holds the claimed job.
    wait_synced(page)
    page.click("text=‹")
    page.wait_for_selector(f"[data-job='{first.id}']")
    assert page.locator(f"[data-job='{second.id}']").count() == 0


def test_urge_and_hand_back_with_a_reason(db, context, live_server, engineer, job):
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.click(f"[data-job='{job.id}']")
    page.fill("#urge-note", "客户电话催促，希望今天上门")
    page.click("#urge-form button[type=submit]")
    wait_pending(page, 0)

    # Handing back needs a reason and a confirmation.
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("#hand-back-form button[type=submit]")
    assert not dialogs  # an empty reason is refused by the form itself
    page.fill("#hand-back-reason", "缺少专用工具，需要其他师傅")
    with page.expect_event("dialog"):
        page.click("#hand-back-form button[type=submit]")
    assert len(dialogs) == 1

    # The op goes through the outbox: wait for the server to have it (the page may still show the job briefly).
    deadline = time.monotonic() + 20
    while True:
        db.session.expire_all()
        sr = db.session.get(ServiceRequest, job.id)
        if sr.status == "awaiting_assignment" or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert sr.status == "awaiting_assignment" and sr.engineer_id is None and sr.urged
    wait_pending(page, 0)
    events = {
        e.action: e.note for e in db.session.scalars(sa.select(RequestEvent).where(RequestEvent.request_id == job.id))
    }
    assert events["urge"] == "客户电话催促，希望今天上门"
    assert events["hand_back"] == "缺少专用工具，需要其他师傅"


def test_a_sync_redrawing_the_job_keeps_what_the_engineer_is_typing(db, context, live_server, engineer, job):
    """Sending one form redraws the job page when the sync ends; a reason half typed in another form stays."""
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.click(f"[data-job='{job.id}']")
    page.fill("#hand-back-reason", "缺少专用工具")
    page.fill("#urge-note", "客户来电催促")
    page.click("#urge-form button[type=submit]")
    wait_pending(page, 0)
    wait_synced(page)
    db.session.expire_all()
    assert db.session.get(ServiceRequest, job.id).urged
    # The page was drawn again (the urge form is empty once its op is queued), the other text is still there.
    assert page.input_value("#urge-note") == ""
    assert page.input_value("#hand-back-reason") == "缺少专用工具"


def test_the_engineer_shows_the_customers_qr_on_site_with_no_signal(db, context, live_server, engineer, job):
    """The job carries the customer's page; the phone draws its QR offline, and it decodes to that page."""
    from io import BytesIO

    from PIL import Image

    from fieldservice.core.links import customer_page_url
    from fieldservice.reports.operations import current_token

    zbar = pytest.importorskip("pyzbar.pyzbar")
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.wait_for_selector(f"[data-job='{job.id}']")
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
    context.set_offline(True)
    page.click(f"[data-job='{job.id}']")
    assert page.is_hidden("#customer-qr")
    page.click("#show-customer-qr")
    page.wait_for_selector("#customer-qr svg")
    shot = page.locator("#customer-qr").screenshot()
    decoded = zbar.decode(Image.open(BytesIO(shot)))
    context.set_offline(False)

    db.session.expire_all()
    expected = customer_page_url(current_token(db.session.get(ServiceRequest, job.id)))
    assert [d.data.decode() for d in decoded] == [expected]
    # Back online, a sync redraws the page: the QR the customer is scanning stays on screen.
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
    page.click("#sync-now")
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
    assert page.is_visible("#customer-qr svg")
    page.click("#show-customer-qr")
    page.wait_for_selector("#customer-qr", state="hidden")
