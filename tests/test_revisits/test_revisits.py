"""The callback desk: queue, survey, failed attempts and unreachable closing, low-score follow-ups, roles."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from fieldservice.requests.models import RequestEvent, Survey
from fieldservice.revisits import operations as ops
from fieldservice.revisits.models import CallbackAttempt, FollowUp, UnreachableClosing

GOOD = {"timeliness": 5, "attitude": 4, "quality": 5}


def _survey(api, sr, satisfied=True, scores=GOOD, version=None, **kw):
    body = {"version": version or sr.version, "satisfied": satisfied, "scores": scores, **kw}
    return api.post(f"/api/v1/requests/{sr.id}/revisit", json=body)


# ------------------------------------------------------------------ the queue


def test_queue_lists_resolved_requests_oldest_first_with_due_time_and_contacts(db, make_resolved, api_as):
    now = utcnow()
    newer = make_resolved(finished_at=now - timedelta(hours=2))
    older = make_resolved(finished_at=now - timedelta(hours=60))
    body = api_as("callback").get("/api/v1/revisits/queue").get_json()
    assert [e["request_id"] for e in body["items"]] == [older.id, newer.id]
    first = body["items"][0]
    assert first["overdue"] is True and body["items"][1]["overdue"] is False
    assert first["contact_phone"] == "13912345678" and first["customer"]["name"] == older.customer.name
    assert first["callback_due"].startswith(
        (older.resolved_at + timedelta(hours=48)).strftime("%Y-%m-%dT%H:%M")
    )
    assert first["attempts"] == 0 and first["max_attempts"] == 3 and first["rating"] is None
    late = api_as("manager").get("/api/v1/revisits/queue?overdue=true").get_json()
    assert [e["request_id"] for e in late["items"]] == [older.id]


def test_callback_due_hours_are_a_setting(app, db, make_resolved, api_as):
    app.config["FIELDSERVICE_CALLBACK_HOURS"] = 1
    make_resolved(finished_at=utcnow() - timedelta(hours=2))
    assert api_as("callback").get("/api/v1/revisits/queue").get_json()["items"][0]["overdue"] is True


def test_queue_shows_the_customers_qr_rating(db, make_resolved, api_as):
    from fieldservice.reports.models import CustomerRating

    sr = make_resolved()
    db.session.add(CustomerRating(request_id=sr.id, visit_id=sr.visits[0].id, score=2, comment="师傅迟到"))
    db.session.commit()
    entry = api_as("callback").get("/api/v1/revisits/queue").get_json()["items"][0]
    assert entry["rating"]["score"] == 2 and entry["rating"]["comment"] == "师傅迟到"


def test_a_surveyed_request_leaves_the_queue(db, make_resolved, api_as):
    sr = make_resolved()
    api = api_as("callback")
    assert _survey(api, sr).status_code == 200
    assert api.get("/api/v1/revisits/queue").get_json()["total"] == 0


@pytest.mark.parametrize(
    "role,status",
    [("engineer", 403), ("dispatcher", 403), ("callback", 200), ("manager", 200), ("admin", 200)],
)
def test_queue_roles(api_as, role, status):
    assert api_as(role).get("/api/v1/revisits/queue").status_code == status


def test_queue_needs_login(client):
    assert client.get("/api/v1/revisits/queue").status_code == 401


# ------------------------------------------------------------------ survey transitions


def test_satisfied_survey_closes_the_loop(db, make_resolved, api_as):
    sr = make_resolved()
    r = _survey(api_as("callback"), sr)
    assert r.status_code == 200 and r.get_json()["status"] == "revisited"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUp)) == 0


def test_not_satisfied_goes_back_for_assignment_with_the_reason(db, make_resolved, api_as):
    sr = make_resolved()
    r = _survey(api_as("callback"), sr, satisfied=False, comment="还是漏水")
    assert r.get_json()["status"] == "awaiting_assignment"
    event = db.session.scalars(
        sa.select(RequestEvent).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.id.desc())
    ).first()
    assert event.action == "revisit" and event.note == "还是漏水"


@pytest.mark.parametrize("role", ["dispatcher", "engineer"])
def test_survey_role_boundary(db, make_resolved, api_as, role):
    sr = make_resolved()
    assert _survey(api_as(role), sr).status_code in (403, 404)
    db.session.refresh(sr)
    assert sr.status == "resolved"


def test_stale_survey_is_409_and_changes_nothing(db, make_resolved, api_as):
    sr = make_resolved()
    r = _survey(api_as("callback"), sr, version=sr.version - 1)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_version"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 0


# ------------------------------------------------------------------ low scores


@pytest.mark.parametrize("satisfied", [True, False])
def test_any_score_of_three_or_less_raises_a_follow_up(db, make_resolved, api_as, satisfied):
    sr = make_resolved()
    _survey(
        api_as("callback"),
        sr,
        satisfied=satisfied,
        scores={"timeliness": 3, "attitude": 5, "quality": 1},
        comment="等了太久",
    )
    (follow_up,) = db.session.scalars(sa.select(FollowUp)).all()
    assert follow_up.request_id == sr.id and follow_up.low_scores == {"timeliness": 3, "quality": 1}
    assert follow_up.status == "open"


def test_scores_above_three_raise_nothing(db, make_resolved, api_as):
    _survey(api_as("callback"), make_resolved(), scores={"timeliness": 4, "attitude": 4, "quality": 4})
    assert db.session.scalars(sa.select(FollowUp)).all() == []


def test_raising_a_follow_up_twice_for_one_survey_keeps_one(db, make_resolved, api_as):
    _survey(api_as("callback"), make_resolved(), scores={"timeliness": 2, "attitude": 5, "quality": 5})
    survey = db.session.scalars(sa.select(Survey)).one()
    ops.raise_follow_up(survey)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUp)) == 1


def test_manager_lists_and_closes_follow_ups(db, make_resolved, api_as):
    sr = make_resolved()
    _survey(api_as("callback"), sr, scores={"timeliness": 2, "attitude": 5, "quality": 5})
    manager = api_as("manager")
    (item,) = manager.get("/api/v1/revisits/follow-ups").get_json()["items"]
    assert item["number"] == sr.number and item["low_scores"] == {"timeliness": 2}
    stale = manager.post(
        f"/api/v1/revisits/follow-ups/{item['id']}/close",
        json={"version": item["version"] + 1, "outcome": "已致电道歉"},
    )
    assert stale.status_code == 409
    empty = manager.post(f"/api/v1/revisits/follow-ups/{item['id']}/close", json={"version": item["version"]})
    assert empty.status_code == 422 and "outcome" in empty.get_json()["error"]["fields"]
    done = manager.post(
        f"/api/v1/revisits/follow-ups/{item['id']}/close",
        json={"version": item["version"], "outcome": "已致电道歉，安排回访"},
    )
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    again = manager.post(
        f"/api/v1/revisits/follow-ups/{item['id']}/close",
        json={"version": done.get_json()["version"], "outcome": "再次"},
    )
    assert again.status_code == 409
    assert manager.get("/api/v1/revisits/follow-ups").get_json()["total"] == 0
    assert manager.get("/api/v1/revisits/follow-ups?status=done").get_json()["total"] == 1
    actions = [
        e.action for e in db.session.scalars(sa.select(RequestEvent).where(RequestEvent.request_id == sr.id))
    ]
    assert "follow_up" in actions


@pytest.mark.parametrize("role", ["callback", "dispatcher", "engineer"])
def test_follow_ups_are_for_managers(api_as, role):
    assert api_as(role).get("/api/v1/revisits/follow-ups").status_code == 403


# ------------------------------------------------------------------ failed attempts and unreachable


def _attempt(api, sr, reason="no_answer", **kw):
    return api.post(f"/api/v1/revisits/{sr.id}/attempts", json={"reason": reason, **kw})


def test_attempts_are_recorded_and_the_third_closes_as_unreachable(db, make_resolved, api_as):
    sr = make_resolved()
    api = api_as("callback")
    first = _attempt(api, sr, note="无人接听")
    assert first.status_code == 201
    assert first.get_json()["attempts"] == 1 and first.get_json()["unreachable"] is False
    assert _attempt(api, sr, "busy").get_json()["request_status"] == "resolved"
    third = _attempt(api, sr, "switched_off").get_json()
    assert third["unreachable"] is True and third["request_status"] == "revisited" and third["attempts"] == 3
    db.session.expire_all()
    closing = db.session.scalars(sa.select(UnreachableClosing)).one()
    assert closing.request_id == sr.id and closing.attempts == 3 and closing.survey_id is None
    # Nobody answered: no survey row at all, the request's own transition closed it.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 0
    # Visible, never silent: the list, the timeline, and satisfaction leaves it out.
    listed = api.get("/api/v1/revisits/unreachable").get_json()["items"]
    assert [c["number"] for c in listed] == [sr.number]
    events = api.get(f"/api/v1/requests/{sr.id}/events").get_json()
    assert [e["action"] for e in events].count("callback_attempt") == 3
    last = events[-1]
    # A system note, in the reader's language (the API client asked for none: the site's default, Chinese).
    assert last["note"] == "连续 3 次回访未能联系上客户，未做问卷即关闭。"
    english = api.get(f"/api/v1/requests/{sr.id}/events", headers={"Accept-Language": "en"}).get_json()[-1]
    assert english["note"] == "Customer unreachable after 3 callback attempts; closed without a survey."
    assert (last["action"], last["from_status"], last["to_status"]) == (
        "close_unreachable",
        "resolved",
        "revisited",
    )
    assert last["data"]["unreachable"] is True and last["data"]["attempts"] == 3
    assert ops.satisfaction("product") == []
    report = api_as("manager").get("/api/v1/revisits/satisfaction?by=engineer").get_json()
    assert report == {"by": "engineer", "rows": [], "unreachable": 1}
    assert len(api.get(f"/api/v1/revisits/{sr.id}/attempts").get_json()) == 3
    assert api.get("/api/v1/revisits/queue").get_json()["total"] == 0


def test_the_number_of_attempts_is_a_setting(app, db, make_resolved, api_as):
    app.config["FIELDSERVICE_CALLBACK_MAX_ATTEMPTS"] = 1
    sr = make_resolved()
    assert _attempt(api_as("callback"), sr).get_json()["unreachable"] is True


def test_attempts_count_again_after_a_reopened_job_is_resolved_again(db, make_resolved, api_as, dispatcher):
    from fieldservice.requests import operations as rops

    sr = make_resolved(finished_at=utcnow() - timedelta(hours=5))
    api = api_as("callback")
    _attempt(api, sr)
    _attempt(api, sr)
    _survey(api, sr, satisfied=False, version=db.session.get(type(sr), sr.id).version)
    db.session.expire_all()
    engineer_id = db.session.scalars(sa.select(type(sr.visits[0]).engineer_id)).first()
    rops.perform(sr, "assign", dispatcher, None, engineer_id=engineer_id)
    from fieldservice.engineers.models import Engineer

    rops.record_visit(
        sr,
        {
            "outcome": "resolved",
            "arrived_at": utcnow() - timedelta(minutes=30),
            "finished_at": utcnow() - timedelta(minutes=1),
            "labour_hours": 0.5,
        },
        db.session.get(Engineer, engineer_id).user,
    )
    db.session.commit()
    result = _attempt(api, sr).get_json()
    assert result["attempts"] == 1 and result["unreachable"] is False


def test_attempt_on_a_request_not_waiting_is_409(db, make_resolved, api_as):
    sr = make_resolved()
    api = api_as("manager")
    _survey(api, sr)
    r = _attempt(api, sr)
    assert r.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallbackAttempt)) == 0


def test_attempt_bad_reason_is_422_and_stale_version_409(db, make_resolved, api_as):
    sr = make_resolved()
    api = api_as("callback")
    bad = _attempt(api, sr, reason="lunch")
    assert bad.status_code == 422 and "reason" in bad.get_json()["error"]["fields"]
    stale = _attempt(api, sr, version=sr.version + 5)
    assert stale.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallbackAttempt)) == 0


@pytest.mark.parametrize("role", ["dispatcher", "engineer"])
def test_attempt_role_boundary(db, make_resolved, api_as, role):
    assert _attempt(api_as(role), make_resolved()).status_code == 403


# ------------------------------------------------------------------ satisfaction for analytics


def test_satisfaction_by_engineer_product_and_month(db, make_resolved, api_as):
    a, b = make_resolved(), make_resolved()
    api = api_as("callback")
    _survey(api, a, scores={"timeliness": 5, "attitude": 5, "quality": 5})
    _survey(api, b, satisfied=False, scores={"timeliness": 1, "attitude": 3, "quality": 2})
    (row,) = ops.satisfaction("engineer")
    assert row["key"] == a.visits[0].engineer_id and row["surveys"] == 2 and row["satisfaction"] == 0.5
    assert row["timeliness"] == 3.0
    assert len(ops.satisfaction("product")) == 2
    (month,) = ops.satisfaction("month")
    assert month["key"] == utcnow().strftime("%Y-%m")


def test_satisfaction_api_is_for_managers_and_checks_its_input(api_as):
    assert api_as("callback").get("/api/v1/revisits/satisfaction?by=engineer").status_code == 403
    bad = api_as("manager").get("/api/v1/revisits/satisfaction?by=weather")
    assert bad.status_code == 422 and "by" in bad.get_json()["error"]["fields"]
