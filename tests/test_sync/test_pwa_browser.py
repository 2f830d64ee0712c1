"""The engineers' PWA in real Chromium: log in, work a job offline, reload offline, sync once back online."""

import io
import time

import pytest
import sqlalchemy as sa
from PIL import Image

from fieldservice.requests.models import Attachment, ServiceRequest, Visit
from fieldservice.sync.models import AppliedOp
from tests.test_sync.conftest import log_in, reassign, wait_pending

pytestmark = pytest.mark.browser


def photo_file(tmp_path):
    """A camera-sized photo, for the phone to shrink before it stores it."""
    path = tmp_path / "nameplate.jpg"
    image = Image.new("RGB", (3000, 2000), (90, 140, 200))
    image.save(path, format="JPEG", quality=90)
    return str(path)


def sign(page):
    page.locator("#signature").scroll_into_view_if_needed()
    box = page.locator("#signature").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 120)
    page.mouse.down()
    for x, y in [(80, 40), (140, 130), (200, 50), (280, 110)]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    page.mouse.up()


def record_visit(page, tmp_path, job):
    page.click(f"[data-job='{job.id}']")
    page.click("#record-visit")
    page.fill("#labour_hours", "1.5")
    page.fill("#fault", "不出水")
    page.fill("#cause", "进水电磁阀线圈烧毁")
    page.fill("#solution", "更换进水电磁阀，试机正常")
    page.click("#add-cost")
    page.fill("[data-cost='0'] [name=amount]", "30")
    page.set_input_files("#photo-input", photo_file(tmp_path))
    page.wait_for_selector("#thumbs img")
    sign(page)


def test_offline_visit_survives_reload_and_syncs_once(db, context, live_server, engineer, job, tmp_path):
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.wait_for_selector(f"[data-job='{job.id}']")
    assert page.locator("#net-state").inner_text() in ("在线", "Online")

    context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    record_visit(page, tmp_path, job)
    page.click("#submit-visit")
    page.wait_for_selector("#job-status")
    wait_pending(page, 1)

    # The app shell comes from the service worker; the queued visit from IndexedDB.
    page.reload()
    page.wait_for_selector("#job-status")
    wait_pending(page, 1)
    assert "待同步" in page.locator("#job-status").inner_text()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0

    context.set_offline(False)
    wait_pending(page, 0)
    db.session.expire_all()
    sr = db.session.get(ServiceRequest, job.id)
    assert sr.status == "resolved"
    (visit,) = db.session.scalars(sa.select(Visit).where(Visit.request_id == job.id)).all()
    assert visit.signature_id and visit.labour_hours == 1.5
    assert [c.kind for c in visit.costs] == ["travel"]
    (photo,) = visit.photos
    assert photo.content_type == "image/jpeg"
    with Image.open(io.BytesIO(db.session.get(Attachment, photo.id).data)) as shrunk:
        assert max(shrunk.size) == 1280  # compressed on the phone
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AppliedOp)) == 1

    # Syncing again (reconnect, timer) sends nothing twice.
    page.click("#sync-now")
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
    time.sleep(0.5)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 1


def test_draft_survives_a_reload(db, context, live_server, engineer, job, tmp_path):
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.wait_for_selector(f"[data-job='{job.id}']")
    context.set_offline(True)
    page.click(f"[data-job='{job.id}']")
    page.click("#record-visit")
    page.fill("#cause", "滤芯堵塞")
    page.fill("#labour_hours", "2")
    page.wait_for_function("() => document.querySelector('#draft-state').textContent !== ''")
    page.reload()
    page.wait_for_selector("#visit-form")
    assert page.input_value("#cause") == "滤芯堵塞"
    assert page.input_value("#labour_hours") == "2"


def test_job_reassigned_while_offline_shows_the_rejection_and_keeps_the_data(
    db, context, live_server, engineer, job, make_engineer, dispatcher, tmp_path
):
    page = context.new_page()
    log_in(page, live_server, engineer)
    page.wait_for_selector(f"[data-job='{job.id}']")
    context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    record_visit(page, tmp_path, job)
    page.click("#submit-visit")
    wait_pending(page, 1)

    reassign(db, job, engineer, dispatcher, make_engineer(skills=["water_purifier"], name="李师傅"))

    context.set_offline(False)
    page.wait_for_selector("#rejected-count")
    wait_pending(page, 0)
    page.goto(live_server.url + f"/app/#/job/{job.id}")
    reason = page.locator(".reject-reason").first
    assert reason.get_attribute("data-code") == "job_reassigned"
    assert page.locator("#removed-banner").is_visible()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0
    # The engineer's visit is still on the phone, with its photo and signature (blobs the op names by id).
    kept = page.evaluate(
        """FS.store.listOps().then(ops => Promise.all(ops.map(async (o) => [o.type, o.status,
             o.payload.photo_ids.length, !!o.payload.signature_id,
             (await Promise.all(o.blob_ids.map(id => FS.store.getBlob(id)))).map(b => b && b.kind)])))"""
    )
    assert kept == [["record_visit", "rejected", 1, True, ["photo", "signature"]]]


def test_job_photo_uploads_once_under_the_phones_id(db, context, live_server, engineer, job, tmp_path):
    from fieldservice.requests.models import RequestEvent

    page = context.new_page()
    log_in(page, live_server, engineer)
    page.click(f"[data-job='{job.id}']")
    page.set_input_files("#job-photo", photo_file(tmp_path))
    # The timeline shows the photo once the server has it and the phone pulled the job again.
    page.wait_for_function(
        "() => document.querySelectorAll('ul.timeline li:not(.muted)').length > 0 && "
        "[...document.querySelectorAll('ul.timeline li')].some(li => li.textContent.includes('照片') && "
        "!li.classList.contains('muted'))"
    )
    db.session.expire_all()
    (photo,) = db.session.scalars(sa.select(Attachment).where(Attachment.request_id == job.id)).all()
    assert photo.kind == "photo" and photo.visit_id is None
    event = db.session.scalars(
        sa.select(RequestEvent).where(RequestEvent.request_id == job.id, RequestEvent.action == "photo")
    ).one()
    assert event.data == {"attachment_id": photo.id}
