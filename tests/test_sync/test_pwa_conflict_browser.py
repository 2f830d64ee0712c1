"""Conflicts shown in real Chromium: the engineer edits a job's details offline while the dispatcher edits them too;
different fields both stand, the same field is refused with both values and who changed it, and the engineer keeps
theirs (a new edit on the version the conflict gave) or takes the dispatcher's."""

import time

import pytest
import sqlalchemy as sa

from fieldservice.requests import operations as requests_ops
from fieldservice.requests.models import ServiceRequest
from fieldservice.sync.models import AppliedOp
from tests.test_sync.conftest import log_in, wait_pending

pytestmark = pytest.mark.browser


def office_edit(db, job, dispatcher, **changes):
    sr = db.session.get(ServiceRequest, job.id)
    db.session.refresh(sr)
    requests_ops.edit_details(sr, changes, dispatcher, sr.version)
    db.session.commit()


def current(db, job) -> ServiceRequest:
    db.session.expire_all()
    return db.session.get(ServiceRequest, job.id)


def edit_offline(page, context, job, **values):
    context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    page.wait_for_selector("#details-form")
    for field, value in values.items():
        page.fill(f"#detail-{field}", value)
    page.click("#save-details")
    wait_pending(page, 1)


def open_job(page, live_server, engineer, job):
    log_in(page, live_server, engineer)
    page.wait_for_selector(f"[data-job='{job.id}']")
    page.click(f"[data-job='{job.id}']")


def test_edits_of_different_fields_both_stand(db, context, live_server, engineer, job, dispatcher):
    page = context.new_page()
    open_job(page, live_server, engineer, job)
    edit_offline(page, context, job, engineer_note="水压低，需带增压泵")
    # Two more changes before the phone syncs: still one op, all fields in it.
    page.fill("#detail-contact_name", "王先生")
    page.click("#save-details")
    page.wait_for_selector("#shown-contact-name")
    assert page.evaluate("FS.store.listOps().then(ops => ops.map(o => [o.type, o.payload.changes]))") == [
        ["edit", {"engineer_note": "水压低，需带增压泵", "contact_name": "王先生"}]
    ]
    office_edit(db, job, dispatcher, contact_phone="13900001111")

    context.set_offline(False)
    wait_pending(page, 0)
    sr = current(db, job)
    assert (sr.engineer_note, sr.contact_name, sr.contact_phone) == ("水压低，需带增压泵", "王先生", "13900001111")
    # The phone's copy shows all three once it pulled the job again.
    page.wait_for_function("() => document.querySelector('#shown-phone')?.textContent.includes('13900001111')")
    assert page.input_value("#detail-engineer_note") == "水压低，需带增压泵"


def test_the_same_field_on_both_sides_shows_the_choice_and_keep_mine_wins(
    db, context, live_server, engineer, job, dispatcher
):
    page = context.new_page()
    open_job(page, live_server, engineer, job)
    edit_offline(page, context, job, contact_phone="13800002222", engineer_note="已电话确认")
    office_edit(db, job, dispatcher, contact_phone="13900003333")
    after_office = current(db, job).version

    context.set_offline(False)
    page.wait_for_selector("#rejected-count")
    page.goto(live_server.url + "/app/#/outbox")
    field = page.locator(".conflict-field[data-field='contact_phone']")
    field.wait_for()
    assert field.locator(".mine").inner_text() == "13800002222"
    assert field.locator(".theirs").inner_text() == "13900003333"
    assert dispatcher.display_name in field.inner_text()
    assert page.locator(".conflict-field").count() == 1  # the note changed on one side only
    # All or nothing: the note waited with the refused op.
    assert current(db, job).engineer_note is None

    page.click("[data-keep-mine]")
    page.wait_for_selector("[data-rejected-op]", state="detached")
    wait_pending(page, 0)
    sr = current(db, job)
    assert (sr.contact_phone, sr.engineer_note) == ("13800002222", "已电话确认")
    rows = db.session.scalars(sa.select(AppliedOp).where(AppliedOp.request_id == job.id)).all()
    assert sorted(r.status for r in rows) == ["applied", "rejected"]
    kept = next(r for r in rows if r.status == "applied")
    assert kept.result["version"] > after_office


def test_take_theirs_drops_mine_and_shows_theirs(db, context, live_server, engineer, job, dispatcher):
    page = context.new_page()
    page.goto(live_server.url + "/app/")
    page.evaluate("FS.i18n.setLang('en')")
    open_job(page, live_server, engineer, job)
    edit_offline(page, context, job, contact_name="王先生")
    office_edit(db, job, dispatcher, contact_name="李女士")
    version = current(db, job).version

    context.set_offline(False)
    page.wait_for_selector("#rejected-count")
    page.goto(live_server.url + f"/app/#/job/{job.id}")
    page.wait_for_selector(".conflict-field[data-field='contact_name']")
    assert "Changed by" in page.locator(".conflict-field").inner_text()
    # A conflict of details holds nothing else of the job: the engineer accepts it meanwhile.
    page.click("[data-op='accept']")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        db.session.expire_all()
        accepted = db.session.scalars(
            sa.select(AppliedOp.status).where(AppliedOp.request_id == job.id, AppliedOp.type == "accept")
        ).all()
        if accepted:
            break
        time.sleep(0.2)
    assert accepted == ["applied"]
    version = current(db, job).version
    page.click("[data-take-theirs]")
    page.wait_for_selector("[data-rejected-op]", state="detached")
    page.wait_for_function("() => document.querySelector('#detail-contact_name')?.value === '李女士'")
    assert page.evaluate("FS.store.countOps()") == {"pending": 0, "rejected": 0}
    sr = current(db, job)
    assert (sr.contact_name, sr.version) == ("李女士", version)
