"""The engineers API through the Flask client: create (with the login), read, update with version, leave;
roles; bad input."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.auth.models import User
from fieldservice.core.models import utcnow
from fieldservice.engineers.models import Engineer

NEW_ENGINEER = {
    "username": "eng-zhang",
    "password": "secret-pass-1",
    "name": "张建国",
    "skills": ["air_conditioner", "water_purifier"],
    "zone": "浦东新区",
    "lat": 31.22,
    "lng": 121.54,
    "max_open_jobs": 4,
}


def _count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_engineer_creates_the_login(api_as, client, db):
    manager = api_as("manager")
    response = manager.post("/api/v1/engineers", json=NEW_ENGINEER)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["id"] and body["username"] == "eng-zhang" and body["version"] == 1
    assert body["skills"] == ["air_conditioner", "water_purifier"] and body["load"] == 0
    assert body["max_open_jobs"] == 4 and body["work_days"] == [1, 2, 3, 4, 5]
    token = client.post("/api/v1/auth/token", json={"username": "eng-zhang", "password": "secret-pass-1"})
    assert token.status_code == 200 and token.json["user"]["role"] == "engineer"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"password": "short"}, "password"),
        ({"skills": None}, "skills"),
        ({"name": ""}, "name"),
        ({"lat": 123}, "lat"),
        ({"lng": None}, "lat"),
        ({"max_open_jobs": 0}, "max_open_jobs"),
        ({"work_days": [0, 8]}, "work_days"),
        ({"work_start": "25:00"}, "work_start"),
    ],
)
def test_bad_input_is_422_with_fields_and_changes_nothing(api_as, db, change, field):
    manager = api_as("manager")
    users = _count(db, User)
    body = {**NEW_ENGINEER, **change}
    if body.get("skills") is None:
        body.pop("skills")
    response = manager.post("/api/v1/engineers", json=body)
    assert response.status_code == 422, response.json
    assert any(name.split(".")[0] == field for name in response.json["error"]["fields"])
    assert _count(db, Engineer) == 0 and _count(db, User) == users


def test_a_taken_username_is_422(api_as, db, make_user):
    make_user("dispatcher", username="eng-zhang")
    response = api_as("manager").post("/api/v1/engineers", json=NEW_ENGINEER)
    assert response.status_code == 422 and "username" in response.json["error"]["fields"]
    assert _count(db, Engineer) == 0


@pytest.mark.postgres
def test_a_username_taken_by_a_concurrent_create_is_422_and_changes_nothing(api_as, db):
    """Another process inserts the same username after this request looked for it: the unique index makes this
    request wait for that transaction, then refuses it. The answer is the one the look gives, not a 500."""
    import threading
    import time

    manager = api_as("manager")
    users = _count(db, User)
    other = db.engine.connect()
    other.execute(
        sa.insert(User).values(
            username=NEW_ENGINEER["username"], role="dispatcher", name="另一位", password_hash="x", token_generation=0
        )
    )  # not yet committed: this request's look cannot see it
    answers = []
    request = threading.Thread(target=lambda: answers.append(manager.post("/api/v1/engineers", json=NEW_ENGINEER)))
    request.start()
    try:
        waiting = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        deadline = time.monotonic() + 20
        while not db.session.scalar(waiting) and request.is_alive():
            assert time.monotonic() < deadline, "the request never waited on the other insert"
            time.sleep(0.05)
            db.session.rollback()
    finally:
        other.commit()
        other.close()
        request.join(20)
    (response,) = answers
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "username_taken" and "username" in response.json["error"]["fields"]
    assert _count(db, Engineer) == 0 and _count(db, User) == users + 1


def test_malformed_json_is_400(api_as):
    response = api_as("manager").post("/api/v1/engineers", data="{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "role, status",
    [("admin", 201), ("manager", 201), ("dispatcher", 403), ("engineer", 403), ("callback", 403)],
)
def test_who_may_create_engineers(api_as, role, status):
    assert api_as(role).post("/api/v1/engineers", json=NEW_ENGINEER).status_code == status


def test_anonymous_is_401(client):
    assert client.get("/api/v1/engineers").status_code == 401


def test_list_filters_and_shows_load(api_as, engineer_factory, request_factory, assign):
    busy = engineer_factory(skills=["elevator"], zone="徐汇区", name="李明辉")
    engineer_factory(skills=["water_purifier"], zone="浦东新区", name="王志强")
    assign(request_factory(category="elevator"), busy)
    dispatcher = api_as("dispatcher")
    everyone = dispatcher.get("/api/v1/engineers").json
    assert everyone["total"] == 2
    lifts = dispatcher.get("/api/v1/engineers?skill=elevator").json["items"]
    assert [(e["id"], e["load"]) for e in lifts] == [(busy.id, 1)]
    assert [e["name"] for e in dispatcher.get("/api/v1/engineers?zone=浦东新区").json["items"]] == ["王志强"]
    assert dispatcher.get("/api/v1/engineers?q=李明").json["total"] == 1
    assert api_as("engineer").get("/api/v1/engineers").status_code == 403


def test_an_engineer_reads_their_own_record_only(api_as, engineer_factory):
    me, other = engineer_factory(), engineer_factory()
    client = api_as(user=me.user)
    assert client.get(f"/api/v1/engineers/{me.id}").status_code == 200
    assert client.get(f"/api/v1/engineers/{other.id}").status_code == 403
    assert api_as("dispatcher").get("/api/v1/engineers/99999").status_code == 404


def test_update_with_version_and_stale_409(api_as, db, engineer_factory):
    engineer = engineer_factory(skills=["water_purifier"])
    manager = api_as("manager")
    first = manager.patch(
        f"/api/v1/engineers/{engineer.id}", json={"version": 1, "skills": ["elevator"], "max_open_jobs": 3}
    )
    assert first.status_code == 200, first.json
    assert first.json["skills"] == ["elevator"] and first.json["version"] == 2
    stale = manager.patch(f"/api/v1/engineers/{engineer.id}", json={"version": 1, "zone": "闵行区"})
    assert stale.status_code == 409 and stale.json["error"]["code"] == "stale_version"
    db.session.expire_all()
    assert db.session.get(Engineer, engineer.id).zone == "浦东"
    missing = manager.patch(f"/api/v1/engineers/{engineer.id}", json={"zone": "闵行区"})
    assert missing.status_code == 422 and "version" in missing.json["error"]["fields"]
    assert api_as("dispatcher").patch(f"/api/v1/engineers/{engineer.id}", json={"version": 2}).status_code == 403


def test_leave_periods(api_as, engineer_factory):
    engineer = engineer_factory()
    manager = api_as("manager")
    url = f"/api/v1/engineers/{engineer.id}/leaves"
    start = utcnow().replace(microsecond=0) + timedelta(days=1)
    body = {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=2)).isoformat(),
        "reason": "年假",
    }
    created = manager.post(url, json=body)
    assert created.status_code == 201, created.json
    overlapping = manager.post(
        url,
        json={
            **body,
            "starts_at": (start + timedelta(days=1)).isoformat(),
            "ends_at": (start + timedelta(days=5)).isoformat(),
        },
    )
    assert overlapping.status_code == 422 and "starts_at" in overlapping.json["error"]["fields"]
    backwards = manager.post(url, json={**body, "ends_at": (start - timedelta(hours=1)).isoformat()})
    assert backwards.status_code == 422 and "ends_at" in backwards.json["error"]["fields"]
    naive = manager.post(url, json={**body, "starts_at": "2026-12-01T09:00:00"})
    assert naive.status_code == 422
    assert len(manager.get(f"/api/v1/engineers/{engineer.id}").json["leaves"]) == 1
    assert manager.delete(f"{url}/{created.json['id']}").status_code == 204
    assert manager.get(f"/api/v1/engineers/{engineer.id}").json["leaves"] == []
    assert manager.delete(f"{url}/{created.json['id']}").status_code == 404
