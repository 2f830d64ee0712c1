"""Complaints: intake, each transition and role boundary, the timeline, escalation through the sweep."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.complaints import operations as ops
from fieldservice.complaints.models import Complaint, ComplaintAction
from fieldservice.core.models import utcnow


def _log(api, body):
    r = api.post("/api/v1/complaints", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _do(api, complaint, action, **kw):
    return api.post(
        f"/api/v1/complaints/{complaint['id']}/{action}", json={"version": complaint["version"], **kw}
    )


@pytest.mark.parametrize("role", ["dispatcher", "manager", "callback", "admin"])
def test_desk_roles_log_complaints_with_a_due_time_by_severity(api_as, complaint_body, role):
    body = _log(api_as(role), complaint_body(severity="critical"))
    assert body["status"] == "open" and body["number"].startswith("TS-")
    assert body["escalated"] is False
    assert body["timeline"][0]["action"] == "create"
    from datetime import datetime

    due = datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["created_at"])
    assert due == timedelta(hours=4)


def test_engineers_neither_log_nor_read_complaints(api_as, complaint_body):
    api = api_as("engineer")
    assert api.post("/api/v1/complaints", json=complaint_body()).status_code == 403
    assert api.get("/api/v1/complaints").status_code == 403


def test_bad_input_is_422_with_fields_and_nothing_saved(db, api_as, complaint_body):
    api = api_as("dispatcher")
    r = api.post("/api/v1/complaints", json=complaint_body(kind="weather", severity="", request_id=999999))
    assert r.status_code == 422
    assert {"kind", "severity"} <= set(r.get_json()["error"]["fields"])
    r = api.post("/api/v1/complaints", json=complaint_body(request_id=999999))
    assert r.status_code == 422 and "request_id" in r.get_json()["error"]["fields"]
    r = api.post("/api/v1/complaints", json=complaint_body(customer_id=None))
    assert r.status_code == 422 and "customer_id" in r.get_json()["error"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Complaint)) == 0


def test_a_complaint_about_a_request_links_its_customer_and_engineer(
    db, api_as, make_customer, make_engineer
):
    from fieldservice.requests import operations as rops
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    customer = make_customer()
    engineer = make_engineer(skills=["water_purifier"])
    dispatcher = api_as("dispatcher")
    sr = rops.create_request(
        {
            "customer_id": customer.id,
            "problem_type": "leak",
            "description": "漏水",
            "priority": 3,
            "service_category": "water_purifier",
            "required_by": utcnow() + timedelta(days=1),
        },
        dispatcher.user,
    )
    rops.perform(sr, "assign", dispatcher.user, None, engineer_id=engineer.id)
    db.session.commit()
    body = _log(
        dispatcher,
        {
            "kind": "timeliness",
            "severity": "low",
            "summary": "迟到",
            "description": "迟到两小时",
            "request_id": sr.id,
        },
    )
    assert body["customer_id"] == customer.id and body["engineer_id"] == engineer.id


def test_full_handling_loop_with_timeline(db, api_as, make_user, complaint_body):
    dispatcher = api_as("dispatcher")
    handler = make_user("callback")
    body = _log(dispatcher, complaint_body())
    assigned = _do(dispatcher, body, "assign", handler_id=handler.id)
    assert assigned.status_code == 200 and assigned.get_json()["status"] == "assigned"
    mine = api_as(user=handler)
    started = _do(mine, assigned.get_json(), "start", note="已联系客户")
    assert started.get_json()["status"] == "in_progress"
    step = _do(mine, started.get_json(), "act", kind="compensation", note="赠送一次免费保养")
    assert step.status_code == 200 and step.get_json()["status"] == "in_progress"
    closed = _do(
        mine,
        step.get_json(),
        "close",
        outcome="已向客户道歉并对工程师进行培训",
        customer_feedback="客户接受处理结果",
        customer_satisfied=True,
    )
    assert closed.status_code == 200
    final = closed.get_json()
    assert final["status"] == "closed" and final["customer_feedback"] == "客户接受处理结果"
    assert final["customer_satisfied"] is True and final["closed_at"]
    timeline = dispatcher.get(f"/api/v1/complaints/{body['id']}/actions").get_json()
    assert [e["action"] for e in timeline] == ["create", "assign", "start", "act", "close"]
    assert timeline[3]["kind"] == "compensation" and timeline[4]["to_status"] == "closed"
    reopened = _do(api_as("manager"), final, "reopen", reason="客户再次来电")
    assert reopened.get_json()["status"] == "in_progress" and reopened.get_json()["closed_at"] is None


def test_only_the_handler_or_a_manager_handles(db, api_as, make_user, complaint_body):
    dispatcher = api_as("dispatcher")
    handler = make_user("callback")
    body = _do(dispatcher, _log(dispatcher, complaint_body()), "assign", handler_id=handler.id).get_json()
    other = api_as("callback")
    r = _do(other, body, "start")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_handler"
    assert _do(api_as("manager"), body, "start").status_code == 200


@pytest.mark.parametrize("role", ["callback", "dispatcher"])
def test_only_managers_reopen(db, api_as, make_user, complaint_body, role):
    manager = api_as("manager")
    body = _log(manager, complaint_body(handler_id=manager.user.id))
    body = _do(manager, body, "start").get_json()
    body = _do(manager, body, "close", outcome="已处理", customer_feedback="满意").get_json()
    assert _do(api_as(role), body, "reopen", reason="x").status_code == 403


def test_callback_agents_cannot_assign(api_as, make_user, complaint_body):
    api = api_as("callback")
    body = _log(api, complaint_body())
    assert _do(api, body, "assign", handler_id=api.user.id).status_code == 403


def test_illegal_transitions_are_409(api_as, complaint_body):
    manager = api_as("manager")
    body = _log(manager, complaint_body())
    r = _do(manager, body, "close", outcome="x", customer_feedback="y")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "illegal_transition"
    assert _do(manager, body, "start").status_code == 409
    assert _do(manager, body, "reopen", reason="x").status_code == 409


def test_stale_version_is_409_and_changes_nothing(db, api_as, make_user, complaint_body):
    manager = api_as("manager")
    body = _log(manager, complaint_body())
    _do(manager, body, "assign", handler_id=manager.user.id)
    r = _do(manager, body, "assign", handler_id=make_user("dispatcher").id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_version"
    assert manager.get(f"/api/v1/complaints/{body['id']}").get_json()["handler_id"] == manager.user.id


def test_action_payload_errors_are_422(db, api_as, complaint_body, make_user):
    manager = api_as("manager")
    body = _log(manager, complaint_body(handler_id=manager.user.id))
    r = _do(manager, body, "assign", handler_id=make_user("engineer").id)
    assert r.status_code == 422 and "handler_id" in r.get_json()["error"]["fields"]
    body = _do(manager, body, "start").get_json()
    r = _do(manager, body, "close", outcome="已处理")
    assert r.status_code == 422 and "customer_feedback" in r.get_json()["error"]["fields"]
    r = _do(manager, body, "act", kind="dance", note="x")
    assert r.status_code == 422 and "kind" in r.get_json()["error"]["fields"]
    assert manager.get(f"/api/v1/complaints/{body['id']}").get_json()["status"] == "in_progress"


def test_list_filters_and_counts_by_type(api_as, complaint_body):
    api = api_as("dispatcher")
    _log(api, complaint_body(kind="billing", severity="low"))
    _log(api, complaint_body(kind="billing"))
    _log(api, complaint_body(kind="quality"))
    assert api.get("/api/v1/complaints?kind=billing").get_json()["total"] == 2
    assert api.get("/api/v1/complaints?severity=low").get_json()["total"] == 1
    summary = api.get("/api/v1/complaints/summary").get_json()
    assert summary["by_type"] == {"billing": 2, "quality": 1} and summary["by_status"] == {"open": 3}
    assert api.get("/api/v1/complaints?kind=weather").status_code == 422


# ------------------------------------------------------------------ escalation


def test_the_sweep_escalates_missed_due_times_once(db, api_as, complaint_body):
    from fieldservice.core.sweep import run_sweep

    api = api_as("dispatcher")
    late = _log(api, complaint_body(severity="critical"))
    _log(api, complaint_body(severity="low"))
    later = utcnow() + timedelta(hours=5)
    assert run_sweep(later)["complaints"] == 1
    db.session.commit()
    assert run_sweep(later)["complaints"] == 0
    body = api.get(f"/api/v1/complaints/{late['id']}").get_json()
    assert body["escalated"] is True and body["status"] == "open"
    assert [e["action"] for e in body["timeline"]] == ["create", "escalate"]
    escalation = body["timeline"][1]
    assert escalation["actor"] in {"System", "系统"}  # the system, in the reader's language
    assert escalation["note"] in {"Not closed by its due time.", "超过处理期限仍未关闭。"}
    zh = api.get(f"/api/v1/complaints/{late['id']}", headers={"Accept-Language": "zh-CN"}).get_json()
    en = api.get(f"/api/v1/complaints/{late['id']}", headers={"Accept-Language": "en"}).get_json()
    assert (zh["timeline"][1]["actor"], en["timeline"][1]["actor"]) == ("系统", "System")
    assert en["timeline"][1]["note"] == "Not closed by its due time."
    assert zh["timeline"][1]["note"] != en["timeline"][1]["note"]
    assert api.get("/api/v1/complaints?escalated=true").get_json()["total"] == 1
    assert api.get("/api/v1/complaints/summary").get_json()["escalated_open"] == 1


def test_closed_complaints_are_not_escalated(db, api_as, complaint_body):
    manager = api_as("manager")
    body = _log(manager, complaint_body(severity="critical", handler_id=manager.user.id))
    body = _do(manager, _do(manager, body, "start").get_json(), "close", outcome="ok", customer_feedback="ok")
    assert ops.sweep_complaints(utcnow() + timedelta(days=30)) == 0


def test_due_hours_are_a_setting(app, api_as, complaint_body):
    from datetime import datetime

    app.config["FIELDSERVICE_COMPLAINT_DUE_HOURS"] = {"high": 2}
    body = _log(api_as("dispatcher"), complaint_body(severity="high"))
    due = datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["created_at"])
    assert due == timedelta(hours=2)


@pytest.mark.redis
def test_escalation_through_a_real_worker(worker_app, run_worker):
    from fieldservice.auth import operations as auth_ops
    from fieldservice.core.sweep import sweep_job
    from fieldservice.customers.models import Customer
    from fieldservice.extensions import db as _db

    user = auth_ops.create_user("desk1", "password123", "dispatcher")
    customer = Customer(name="杭州西湖酒店", phone="13900002222", address="西湖区", zone="西湖")
    _db.session.add(customer)
    _db.session.flush()
    complaint = ops.create_complaint(
        {
            "channel": "phone",
            "kind": "billing",
            "severity": "critical",
            "summary": "多收费",
            "description": "多收 200 元",
            "customer_id": customer.id,
        },
        user,
        now=utcnow() - timedelta(hours=5),
    )
    _db.session.commit()
    complaint_id = complaint.id
    sweep_job.delay()
    _db.session.commit()
    from fieldservice.core.jobs import dispatch_committed_jobs

    assert dispatch_committed_jobs() == 1
    assert run_worker() == 1
    _db.session.expire_all()
    assert _db.session.get(Complaint, complaint_id).escalated is True
    actions = _db.session.scalars(
        sa.select(ComplaintAction.action).where(ComplaintAction.complaint_id == complaint_id)
    )
    assert list(actions) == ["create", "escalate"]
    # The next minute's run finds nothing due.
    sweep_job.delay()
    _db.session.commit()
    dispatch_committed_jobs()
    run_worker()
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(ComplaintAction)) == 2
