"""A week offline in real Chromium: the token ends while ops wait (log in again, then they replay once), the app
updates over a version-3 database with queued ops, a photo's chunked upload resumes after a dropped connection (a job
photo, and a visit's photo and signature), and the outbox screen says why each op waits or was refused, with the
storage report."""

import io
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa
from PIL import Image

from fieldservice.requests.models import Attachment, RequestEvent, ServiceRequest, Visit
from fieldservice.sync.models import AppliedOp, UploadInProgress
from tests.test_sync.conftest import log_in, reassign, wait_pending
from tests.test_sync.test_pwa_browser import sign

pytestmark = pytest.mark.browser


def applied(db, **where):
    db.session.expire_all()
    query = sa.select(AppliedOp)
    for name, value in where.items():
        query = query.where(getattr(AppliedOp, name) == value)
    return db.session.scalars(query).all()




def noisy_photo(tmp_path):
    """A camera photo that stays a few hundred kilobytes once shrunk (noise does not compress): several chunks."""
    path = tmp_path / "noise.jpg"
    Image.effect_noise((3000, 2000), 90).convert("RGB").save(path, format="JPEG", quality=95)
    return str(path)


def test_token_revoked_while_ops_wait_log_in_again_and_they_apply_once(
    db, context, live_server, engineer, job, dispatcher
):
    from fieldservice.auth.operations import end_all_sessions

    page = context.new_page()
    log_in(page, live_server, engineer)
    page.wait_for_selector(f"[data-job='{job.id}']")
    context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    page.click(f"[data-job='{job.id}']")
    page.click("[data-op='accept']")
    wait_pending(page, 1)
    page.click("[data-op='arrive']")
    wait_pending(page, 2)

    # Meanwhile the office ends every login of the engineer (a lost phone reported, a password changed...).
    end_all_sessions(engineer.user, dispatcher)
    db.session.commit()

    context.set_offline(False)
    # The sync hears 401: the app asks to log in again, says what waits, and keeps every op.
    page.wait_for_selector("#login-form[data-again='1']")
    page.wait_for_selector("#login-waiting")
    assert "2" in page.locator("#login-waiting").inner_text()
    assert page.input_value("#username") == engineer.user.username
    assert page.evaluate("FS.store.listOps().then(ops => ops.map(o => [o.type, o.status]))") == [
        ["accept", "pending"],
        ["arrive", "pending"],
    ]
    assert applied(db) == []

    # The outbox screen is open without a session too, and names the way out.
    page.goto(live_server.url + "/app/#/outbox")
    page.wait_for_selector("#login-again")
    assert {el.get_attribute("data-reason") for el in page.locator("[data-waiting-op]").all()} == {"session"}
    page.click("#login-again")
    page.wait_for_selector("#login-form")
    page.fill("#password", "password123")
    page.click("#login-form button[type=submit]")
    wait_pending(page, 0)
    rows = applied(db, request_id=job.id)
    assert sorted(r.type for r in rows) == ["accept", "arrive"] and {r.status for r in rows} == {"applied"}
    sr = db.session.get(ServiceRequest, job.id)
    assert sr.arrived_at is not None
    actions = db.session.scalars(sa.select(RequestEvent.action).where(RequestEvent.request_id == job.id)).all()
    assert actions.count("accept") == 1 and actions.count("arrive") == 1
    # Another round sends nothing twice.
    page.click("#sync-now")
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
    assert len(applied(db, request_id=job.id)) == 2


# What version 3 of the app made (store.js before issue 26): the test builds it by hand, as an old phone holds it.
V3_SCHEMA = """
async ([session, ops]) => {
  await new Promise((resolve, reject) => {
    const request = indexedDB.open('fieldservice', 3);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore('jobs', { keyPath: 'id' });
      const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      outbox.createIndex('op_id', 'op_id', { unique: true });
      outbox.createIndex('request_id', 'request_id');
      const blobs = db.createObjectStore('blobs', { keyPath: 'id' });
      blobs.createIndex('request_id', 'request_id');
      db.createObjectStore('reference', { keyPath: 'key' });
      db.createObjectStore('meta', { keyPath: 'key' });
      db.createObjectStore('drafts', { keyPath: 'request_id' });
    };
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      const tx = db.transaction(['meta', 'outbox'], 'readwrite');
      tx.objectStore('meta').put({ key: 'session', value: session });
      for (const op of ops) tx.objectStore('outbox').add(op);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  });
}
"""


def test_app_update_over_a_version_3_database_keeps_and_sends_the_queued_ops(db, context, live_server, engineer, job):
    page = context.new_page()
    # A page of the app's origin that is not the app: the old database is made before the new app ever runs.
    page.goto(live_server.url + "/app/manifest.webmanifest")
    answer = page.evaluate(
        """(body) => fetch('/api/v1/auth/token', {method: 'POST', headers: {'Content-Type': 'application/json'},
             body: JSON.stringify(body)}).then(r => r.json())""",
        {"username": engineer.user.username, "password": "password123"},
    )
    session = {"token": answer["token"], "user": answer["user"], "expires_at": answer["expires_at"]}
    session["renewed_at"] = answer["expires_at"]  # no renewal due: the old token itself must carry the replay
    ops = [
        {
            "op_id": op_id,
            "type": type_,
            "request_id": job.id,
            "payload": payload,
            "client_time": None,
            "status": "pending",
            "blob_ids": [],
        }
        for op_id, type_, payload in [
            ("6a1f3c58-9d2e-4b7a-8c1d-0e5f6a7b8c91", "accept", {}),
            ("6a1f3c58-9d2e-4b7a-8c1d-0e5f6a7b8c92", "note", {"note": "客户要求下午上门"}),
        ]
    ]
    page.evaluate(V3_SCHEMA, [session, ops])
    version = page.evaluate(
        "new Promise(r => { const q = indexedDB.open('fieldservice'); "
        "q.onsuccess = () => { r(q.result.version); q.result.close(); }; })"
    )
    assert version == 3

    # The new app opens it: version 4 in place, with the new stores, the two ops still there; then they sync.
    page.goto(live_server.url + "/app/")
    wait_pending(page, 0)
    shape = page.evaluate(
        "FS.store.open().then(db => ({version: db.version, stores: [...db.objectStoreNames].sort()}))"
    )
    assert shape["version"] == 4
    assert {"uploads", "prime", "outbox", "blobs", "drafts"} <= set(shape["stores"])
    rows = applied(db, request_id=job.id)
    assert sorted((r.type, r.status) for r in rows) == [("accept", "applied"), ("note", "applied")]
    notes = db.session.scalars(
        sa.select(RequestEvent.note).where(RequestEvent.request_id == job.id, RequestEvent.action == "note")
    ).all()
    assert notes == ["客户要求下午上门"]


def test_photo_upload_resumes_after_a_dropped_connection_and_lands_once(
    db, plain_context, live_server, engineer, job, tmp_path
):
    page = plain_context.new_page()
    seen = []
    dropped = []

    def cut_second_chunk(route):
        request = route.request
        seen.append((request.method, request.headers.get("content-range")))
        if request.method == "PUT" and not dropped and len([s for s in seen if s[0] == "PUT"]) == 2:
            dropped.append(request.headers.get("content-range"))
            route.abort("connectionreset")
            return
        route.continue_()

    page.route("**/api/v1/uploads/**", cut_second_chunk)
    log_in(page, live_server, engineer, worker=False)
    page.wait_for_selector(f"[data-job='{job.id}']")
    page.click(f"[data-job='{job.id}']")
    page.set_input_files("#job-photo", noisy_photo(tmp_path))
    # The second chunk's connection drops: the op and its photo wait, the server holds the first chunk.
    page.wait_for_function("() => document.querySelector('#pending-count')?.dataset.pending === '1'")
    page.wait_for_function("() => document.querySelector('#syncbar').dataset.state === 'idle'")
    assert dropped and dropped[0].startswith("bytes 65536-")
    db.session.expire_all()
    (held,) = db.session.scalars(sa.select(UploadInProgress)).all()
    assert held.offset == 65536 and held.size > 3 * 65536

    page.click("#sync-now")
    wait_pending(page, 0)
    # Resumed: the phone asked for the offset and went on from 65536, not from 0.
    puts = [r for m, r in seen if m == "PUT"]
    assert seen.count(("GET", None)) == 1
    assert [r.split("-")[0] for r in puts].count("bytes 0") == 1
    assert puts[2].startswith("bytes 65536-")
    db.session.expire_all()
    (photo,) = db.session.scalars(sa.select(Attachment).where(Attachment.request_id == job.id)).all()
    assert photo.kind == "photo" and photo.size > 0
    Image.open(io.BytesIO(photo.data)).verify()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadInProgress)) == 0
    assert [r.status for r in applied(db, type="attach_photo")] == ["applied"]


def test_a_visit_recorded_offline_uploads_its_photo_and_signature_in_chunks_that_resume(
    db, plain_context, live_server, engineer, job, tmp_path
):
    page = plain_context.new_page()
    seen = []
    dropped = []

    def cut_second_photo_chunk(route):
        request = route.request
        query = parse_qs(urlparse(request.url).query)
        seen.append((request.method, query.get("kind", [None])[0], request.headers.get("content-range")))
        photo_puts = [s for s in seen if s[:2] == ("PUT", "photo")]
        if not dropped and len(photo_puts) == 2 and seen[-1][:2] == ("PUT", "photo"):
            dropped.append(request.headers.get("content-range"))
            route.abort("connectionreset")
            return
        route.continue_()

    page.route("**/api/v1/uploads/**", cut_second_photo_chunk)
    log_in(page, live_server, engineer, worker=False)
    page.wait_for_selector(f"[data-job='{job.id}']")
    plain_context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    page.click(f"[data-job='{job.id}']")
    page.click("#record-visit")
    page.fill("#labour_hours", "1.5")
    page.fill("#cause", "进水电磁阀线圈烧毁")
    page.set_input_files("#photo-input", noisy_photo(tmp_path))
    page.wait_for_selector("#thumbs img")
    sign(page)
    page.click("#submit-visit")
    wait_pending(page, 1)
    # On the phone: the op names the photo and the signature by id; they wait beside it as blobs of their kind.
    (queued,) = page.evaluate(
        """FS.store.listOps().then(ops => Promise.all(ops.map(async (o) => ({
             payload: o.payload, blob_ids: o.blob_ids,
             blobs: await Promise.all(o.blob_ids.map(id => FS.store.getBlob(id).then(
               b => [b.id, b.kind, b.content_type, b.blob.size])))}))))"""
    )
    payload = queued["payload"]
    assert "photos" not in payload and "signature" not in payload
    assert queued["blob_ids"] == [*payload["photo_ids"], payload["signature_id"]] and len(payload["photo_ids"]) == 1
    (photo_blob, signature_blob) = queued["blobs"]
    assert photo_blob[1:3] == ["photo", "image/jpeg"] and photo_blob[3] > 3 * 65536
    assert signature_blob[1:3] == ["signature", "image/png"]

    # Back online, the connection drops during the photo's second chunk: the op waits, the server holds one chunk.
    plain_context.set_offline(False)
    page.wait_for_function("() => document.querySelector('#pending-count')?.dataset.pending === '1'")
    page.wait_for_function(
        "() => document.querySelector('#syncbar').dataset.state === 'idle' && !!document.querySelector('.has-error')"
    )
    assert dropped and dropped[0].startswith("bytes 65536-")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0

    page.click("#sync-now")
    wait_pending(page, 0)
    # Resumed: the phone asked the server's offset once and went on from 65536; the photo's first chunk went once.
    photo_puts = [r for m, kind, r in seen if (m, kind) == ("PUT", "photo")]
    assert [r.split("-")[0] for r in photo_puts].count("bytes 0") == 1
    assert photo_puts[2].startswith("bytes 65536-")
    assert [m for m, kind, _ in seen if m == "GET"] == ["GET"]
    db.session.expire_all()
    (visit,) = db.session.scalars(sa.select(Visit).where(Visit.request_id == job.id)).all()
    assert visit.request.status == "resolved" and visit.labour_hours == 1.5
    attachments = db.session.scalars(sa.select(Attachment).where(Attachment.request_id == job.id)).all()
    assert sorted(a.kind for a in attachments) == ["photo", "signature"]
    (photo,) = visit.photos
    assert photo.id == payload["photo_ids"][0]
    with Image.open(io.BytesIO(photo.data)) as stored:
        assert max(stored.size) == 1280  # the phone's shrunk photo, checked and encoded again by the server
    assert visit.signature_id == payload["signature_id"] and visit.signature.content_type == "image/png"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadInProgress)) == 0
    assert [r.status for r in applied(db, type="record_visit")] == ["applied"]
    # Delivered: the op and its blobs leave the phone.
    assert page.evaluate("FS.store.listOps().then(ops => ops.length)") == 0
    assert page.evaluate(f"FS.store.getBlob('{payload['photo_ids'][0]}')") is None


FULL_STORAGE = """
(() => {
  const estimate = { usage: 900 * 1024 * 1024, quota: 1000 * 1024 * 1024 };
  Object.defineProperty(navigator, 'storage', { value: {
    estimate: async () => estimate, persisted: async () => false, persist: async () => false,
  } });
})();
"""


def test_outbox_screen_lists_waiting_and_refused_ops_with_reasons_and_storage(
    db, plain_context, live_server, engineer, job, make_job, make_engineer, dispatcher
):
    other = make_job(engineer)
    plain_context.add_init_script(FULL_STORAGE)
    page = plain_context.new_page()
    log_in(page, live_server, engineer, worker=False)
    page.wait_for_selector(f"[data-job='{job.id}']")
    # The storage warning shows in the sync bar before the quota is reached.
    page.wait_for_selector("#storage-low")
    assert "90" in page.locator("#storage-low").inner_text()

    plain_context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    page.goto(live_server.url + f"/app/#/job/{job.id}")
    page.fill("#note", "带上备用滤芯")
    page.click("#note-form button[type=submit]")
    wait_pending(page, 1)
    page.goto(live_server.url + f"/app/#/job/{other.id}")
    page.click("[data-op='accept']")
    wait_pending(page, 2)

    page.click("#pending-count")
    page.wait_for_selector("[data-waiting-op]")
    assert {el.get_attribute("data-reason") for el in page.locator("[data-waiting-op]").all()} == {"offline"}
    assert page.locator("#storage-warning").is_visible()
    assert page.locator("#storage").get_attribute("data-share") == "90"
    assert page.locator("#storage-persist").is_visible()

    # The first job goes to a colleague meanwhile: its note is refused, the other job's accept goes through.
    reassign(db, job, engineer, dispatcher, make_engineer(skills=["water_purifier"], name="李师傅"))
    plain_context.set_offline(False)
    page.wait_for_selector("#rejected-count")
    wait_pending(page, 0)
    page.goto(live_server.url + "/app/#/outbox")
    card = page.locator("[data-rejected-op]")
    card.wait_for()
    assert card.locator(".reject-reason").get_attribute("data-code") == "job_reassigned"
    assert card.locator("[data-retry-op]").is_visible() and card.locator("[data-discard]").is_visible()
    assert page.locator("#outbox-empty").is_visible()

    # Discarding asks first: dismissed, the op stays; accepted, it goes.
    page.once("dialog", lambda dialog: dialog.dismiss())
    card.locator("[data-discard]").click()
    assert page.evaluate("FS.store.countOps()") == {"pending": 0, "rejected": 1}
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("[data-discard]").click()
    page.wait_for_selector("[data-rejected-op]", state="detached")
    assert page.evaluate("FS.store.countOps()") == {"pending": 0, "rejected": 0}
    assert [r.type for r in applied(db, status="applied")] == ["accept"]
