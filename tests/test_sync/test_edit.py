"""The `edit` op: the job's details merged by field (issue 26), and the console/API edit that feeds it."""

import pytest
import sqlalchemy as sa

from fieldservice.requests.models import RequestEvent, RequestFieldChange, ServiceRequest
from tests.test_sync.conftest import op, reassign


def push(phone, ops):
    response = phone.post("/api/v1/sync", json={"ops": ops})
    assert response.status_code == 200, response.json
    return response.json["results"]


def edit(job_id, base_version, **changes):
    return op("edit", job_id, {"base_version": base_version, "changes": changes})


@pytest.fixture
def office(api_as, dispatcher):
    return api_as(user=dispatcher)


def patch(client, job_id, status=200, **body):
    response = client.patch(f"/api/v1/requests/{job_id}", json=body)
    assert response.status_code == status, response.json
    return response.json


def current(db, job_id) -> ServiceRequest:
    db.session.expire_all()
    return db.session.get(ServiceRequest, job_id)


def test_an_edit_on_the_current_version_applies_and_records_each_field(db, phone, job, engineer):
    [result] = push(phone, [edit(job.id, job.version, engineer_note="水压低，需带增压泵", site_address="二号楼 3 层")])
    assert result["status"] == "applied"
    sr = current(db, job.id)
    assert (sr.engineer_note, sr.site_address) == ("水压低，需带增压泵", "二号楼 3 层")
    assert result["result"] == {
        "version": sr.version,
        "status": "assigned",
        "fields": ["engineer_note", "site_address"],
    }
    changes = db.session.scalars(sa.select(RequestFieldChange).where(RequestFieldChange.request_id == job.id)).all()
    assert {(c.field, c.version, c.actor_id) for c in changes} == {
        ("engineer_note", sr.version, engineer.user_id),
        ("site_address", sr.version, engineer.user_id),
    }
    actions = db.session.scalars(sa.select(RequestEvent.action).where(RequestEvent.request_id == job.id)).all()
    assert actions[-1] == "edit_details"


def test_edits_of_different_fields_both_stand(db, phone, office, job):
    """The dispatcher's edit of the contact and the engineer's offline edit of the note both stand."""
    base = job.version
    patch(office, job.id, version=base, contact_name="李女士", contact_phone="13900001111")
    [result] = push(phone, [edit(job.id, base, engineer_note="带上滤芯")])
    assert result["status"] == "applied"
    sr = current(db, job.id)
    assert (sr.contact_name, sr.contact_phone, sr.engineer_note) == ("李女士", "13900001111", "带上滤芯")


def test_the_same_field_changed_on_both_sides_is_a_conflict_naming_both_values(db, phone, office, job, dispatcher):
    base = job.version
    patch(office, job.id, version=base, engineer_note="客户改约到下午")
    after_office = current(db, job.id).version
    [result] = push(phone, [edit(job.id, base, engineer_note="已电话确认", contact_name="王先生")])
    assert result["status"] == "rejected"
    error = result["error"]
    assert error["code"] == "conflict"
    assert error["message"]
    assert set(error["fields"]) == {"engineer_note"}
    conflict = error["fields"]["engineer_note"]
    assert conflict["mine"] == "已电话确认"
    assert conflict["theirs"] == "客户改约到下午"
    assert conflict["by"] == dispatcher.display_name
    assert conflict["version"] == after_office
    assert conflict["at"].endswith("+00:00")
    # All or nothing: the contact the op also changed is left as it was.
    sr = current(db, job.id)
    assert (sr.engineer_note, sr.contact_name, sr.version) == ("客户改约到下午", job.contact_name, after_office)


def test_the_conflict_message_speaks_the_users_language(db, phone, office, job):
    base = job.version
    patch(office, job.id, version=base, engineer_note="甲")
    response = phone.post(
        "/api/v1/sync", json={"ops": [edit(job.id, base, engineer_note="乙")]}, headers={"Accept-Language": "zh-CN"}
    )
    message = response.json["results"][0]["error"]["message"]
    assert "备注" in message or "工程师" in message, message


def test_keep_mine_is_a_new_edit_on_the_version_the_conflict_gave(db, phone, office, job):
    base = job.version
    patch(office, job.id, version=base, engineer_note="调度的备注")
    [refused] = push(phone, [edit(job.id, base, engineer_note="我的备注")])
    version = refused["error"]["fields"]["engineer_note"]["version"]
    [kept] = push(phone, [edit(job.id, version, engineer_note="我的备注")])
    assert kept["status"] == "applied"
    assert current(db, job.id).engineer_note == "我的备注"


def test_a_conflict_does_not_block_the_jobs_later_ops(db, phone, office, job):
    base = job.version
    patch(office, job.id, version=base, engineer_note="调度的备注")
    results = push(
        phone,
        [edit(job.id, base, engineer_note="我的备注"), edit(job.id, base, site_address="东门"), op("accept", job.id)],
    )
    assert [r["status"] for r in results] == ["rejected", "applied", "applied"]
    sr = current(db, job.id)
    assert (sr.engineer_note, sr.site_address) == ("调度的备注", "东门")


def test_a_change_to_the_same_value_is_no_conflict(db, phone, office, job):
    base = job.version
    patch(office, job.id, version=base, contact_phone="13800000000")
    [result] = push(phone, [edit(job.id, base, contact_phone="13800000000")])
    assert result["status"] == "applied"


def test_two_offline_edits_of_one_field_by_the_engineer_do_not_conflict_with_each_other(db, phone, job):
    base = job.version
    results = push(phone, [edit(job.id, base, engineer_note="第一稿"), edit(job.id, base, engineer_note="第二稿")])
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert current(db, job.id).engineer_note == "第二稿"


def test_a_change_of_other_fields_and_of_the_state_since_the_base_is_no_conflict(db, phone, office, job):
    base = job.version
    push(phone, [op("accept", job.id)])
    patch(office, job.id, version=current(db, job.id).version, site_address="新地址")
    [result] = push(phone, [edit(job.id, base, contact_name="赵工")])
    assert result["status"] == "applied"
    sr = current(db, job.id)
    assert (sr.site_address, sr.contact_name) == ("新地址", "赵工")


def test_a_reassigned_job_refuses_the_edit_with_the_reason(db, phone, job, engineer, dispatcher, make_engineer):
    push(phone, [op("accept", job.id)])
    colleague = make_engineer(skills=["water_purifier"], name="李师傅")
    reassign(db, job, engineer, dispatcher, colleague)
    [result] = push(phone, [edit(job.id, current(db, job.id).version, engineer_note="x")])
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "job_reassigned"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"changes": {"engineer_note": "x"}}, "base_version"),
        ({"base_version": 1, "changes": {}}, "changes"),
        ({"base_version": 1, "changes": {"status": "resolved"}}, "changes.status"),
        ({"base_version": 1, "changes": {"contact_phone": "1" * 41}}, "changes.contact_phone"),
        ({"base_version": "1", "changes": {"engineer_note": "x"}}, "base_version"),
        ({"base_version": 1, "changes": {"engineer_note": 5}}, "changes.engineer_note"),
    ],
)
def test_an_invalid_edit_is_rejected_naming_the_field(db, phone, job, payload, field):
    read = job.version
    [result] = push(phone, [op("edit", job.id, payload)])
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "validation_failed"
    assert field in result["error"]["fields"], result["error"]
    assert current(db, job.id).version == read


def test_a_base_version_from_the_future_is_refused(db, phone, job):
    [result] = push(phone, [edit(job.id, job.version + 5, engineer_note="x")])
    assert result["error"]["code"] == "validation_failed"
    assert "base_version" in result["error"]["fields"]


def test_an_empty_text_clears_the_field(db, phone, office, job):
    patch(office, job.id, version=job.version, site_address="三号楼")
    [result] = push(phone, [edit(job.id, current(db, job.id).version, site_address="  ")])
    assert result["status"] == "applied"
    assert current(db, job.id).site_address is None


# ---------------------------------------------------------------- the console's and the API's edit


def test_the_api_edit_refuses_a_stale_version_and_changes_nothing(db, office, job):
    read = job.version
    patch(office, job.id, version=read, contact_name="甲")
    answer = patch(office, job.id, status=409, version=read, contact_name="乙")
    assert answer["error"]["code"] == "stale_version"
    assert current(db, job.id).contact_name == "甲"


def test_the_api_edit_answers_the_request_with_its_details(db, office, job):
    read = job.version
    answer = patch(office, job.id, version=read, engineer_note="备注", site_address="地址")
    assert (answer["engineer_note"], answer["site_address"]) == ("备注", "地址")
    assert answer["version"] == read + 1


def test_only_the_assigned_engineer_or_the_office_edits(db, api_as, make_engineer, job):
    stranger = api_as(user=make_engineer(skills=["water_purifier"]).user)
    response = stranger.patch(f"/api/v1/requests/{job.id}", json={"version": job.version, "engineer_note": "x"})
    assert response.status_code in (403, 404)
    callback = api_as("callback")
    response = callback.patch(f"/api/v1/requests/{job.id}", json={"version": job.version, "engineer_note": "x"})
    assert response.status_code in (403, 404)
    assert current(db, job.id).engineer_note is None


def test_the_api_edit_needs_a_field(db, office, job):
    answer = patch(office, job.id, status=422, version=job.version)
    assert answer["error"]["code"] == "validation_failed"


def test_the_pull_carries_the_details(db, phone, office, job):
    patch(office, job.id, version=job.version, engineer_note="带梯子", site_address="仓库后门")
    [pulled] = [j for j in phone.get("/api/v1/sync").json["jobs"] if j["id"] == job.id]
    assert (pulled["engineer_note"], pulled["site_address"]) == ("带梯子", "仓库后门")


# ---------------------------------------------------------------- the console's form


def test_the_console_form_changes_the_details_and_the_phone_merges_with_it(db, console_as, phone, dispatcher, job):
    base = job.version
    console = console_as(user=dispatcher)
    page = console.get(f"/requests/{job.id}").get_data(as_text=True)
    assert 'data-testid="open-details"' in page
    response = console.post(
        f"/requests/{job.id}/details",
        data={
            "details-version": base,
            "details-contact_name": "周女士",
            "details-contact_phone": job.contact_phone or "",
            "details-site_address": "",
            "details-engineer_note": "",
        },
    )
    assert response.status_code == 302
    sr = current(db, job.id)
    assert sr.contact_name == "周女士"
    [result] = push(phone, [edit(job.id, base, engineer_note="门禁密码 1234")])
    assert result["status"] == "applied"
    [refused] = push(phone, [edit(job.id, base, contact_name="周先生")])
    assert refused["error"]["fields"]["contact_name"]["theirs"] == "周女士"
    page = console.get(f"/requests/{job.id}").get_data(as_text=True)
    assert "门禁密码 1234" in page


def test_the_console_form_refuses_a_stale_version_and_shows_what_changed(db, console_as, office, dispatcher, job):
    base = job.version
    patch(office, job.id, version=base, engineer_note="先到的备注")
    console = console_as(user=dispatcher)
    response = console.post(
        f"/requests/{job.id}/details?lang=en",
        data={"details-version": base, "details-engineer_note": "后到的备注"},
    )
    assert response.status_code == 409
    assert 'data-testid="stale"' in response.get_data(as_text=True)
    assert current(db, job.id).engineer_note == "先到的备注"


def test_the_console_form_refuses_a_too_long_value(db, console_as, dispatcher, job):
    console = console_as(user=dispatcher)
    response = console.post(
        f"/requests/{job.id}/details", data={"details-version": job.version, "details-contact_phone": "1" * 41}
    )
    assert response.status_code == 422
    assert current(db, job.id).contact_phone != "1" * 41


def test_a_callback_agent_sees_no_details_form(db, console_as, job):
    from fieldservice.requests import operations as ops

    assert not ops.may_edit_details(current(db, job.id), console_as("callback").user)
