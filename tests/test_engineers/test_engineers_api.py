"""The engineers and dispatch API through the Flask client: create (with the login), read, update with
version, leave, automatic dispatch, suggestions, the claim pool; roles; bad input; concurrent writes."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.auth.models import User
from fieldservice.core.models import utcnow
from fieldservice.engineers.models import Engineer
from fieldservice.requests.models import ServiceRequest

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


def test_malformed_json_is_400(api_as):
    response = api_as("manager").post(
        "/api/v1/engineers", data="{", headers={"Content-Type": "application/json"}
    )
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
    assert (
        api_as("dispatcher").patch(f"/api/v1/engineers/{engineer.id}", json={"version": 2}).status_code == 403
    )


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


def test_auto_dispatch_api(api_as, db, engineer_factory, request_factory):
    engineer = engineer_factory(skills=["water_purifier"])
    purifier = request_factory()
    lift = request_factory(category="elevator")
    dispatcher = api_as("dispatcher")
    proposal = dispatcher.post("/api/v1/dispatch/auto", json={"dry_run": True})
    assert proposal.status_code == 200
    assert db.session.get(ServiceRequest, purifier.id).status == "awaiting_assignment"

    response = dispatcher.post("/api/v1/dispatch/auto", json={})
    assert response.status_code == 200, response.json
    body = response.json
    assert [(a["request_id"], a["engineer_id"]) for a in body["assignments"]] == [(purifier.id, engineer.id)]
    assert body["assignments"][0]["reason"]
    assert [(u["request_id"], u["code"]) for u in body["unassigned"]] == [(lift.id, "no_skill")]
    assert body["unassigned"][0]["reason"]
    events = dispatcher.get(f"/api/v1/requests/{purifier.id}/events").json
    assert events[-1]["action"] == "assign" and events[-1]["note"] == body["assignments"][0]["reason"]


def test_auto_dispatch_api_refusals(api_as, request_factory):
    sr = request_factory()
    dispatcher = api_as("dispatcher")
    bad = dispatcher.post("/api/v1/dispatch/auto", json={"request_ids": [sr.id, 999999]})
    assert bad.status_code == 422 and "request_ids" in bad.json["error"]["fields"]
    assert dispatcher.post("/api/v1/dispatch/auto", json={"request_ids": "x"}).status_code == 422
    assert api_as("engineer").post("/api/v1/dispatch/auto", json={}).status_code == 403
    assert api_as("callback").post("/api/v1/dispatch/auto", json={}).status_code == 403


def test_suggestions_rank_eligible_engineers_first(api_as, engineer_factory, request_factory):
    near = engineer_factory(lat=31.2216, lng=121.5441)
    far = engineer_factory(lat=31.3750, lng=121.2650)
    unskilled = engineer_factory(skills=["elevator"], lat=31.2216, lng=121.5441)
    sr = request_factory()
    body = api_as("dispatcher").get(f"/api/v1/dispatch/suggestions/{sr.id}?limit=3").json
    assert [s["engineer_id"] for s in body] == [near.id, far.id, unskilled.id]
    assert [s["eligible"] for s in body] == [True, True, False]
    assert body[0]["distance_km"] < 1 and body[2]["reason"]


def test_claim_pool_and_claim(api_as, engineer_factory, request_factory):
    engineer = engineer_factory(skills=["water_purifier"], zone="浦东")
    mine = request_factory(zone="浦东")
    request_factory(zone="嘉定")
    request_factory(category="elevator", zone="浦东")
    client = api_as(user=engineer.user)
    pool = client.get("/api/v1/dispatch/pool")
    assert pool.status_code == 200
    assert [r["id"] for r in pool.json["items"]] == [mine.id] and pool.json["total"] == 1
    claimed = client.post(f"/api/v1/requests/{mine.id}/claim", json={"version": mine.version})
    assert claimed.status_code == 200, claimed.json
    assert claimed.json["status"] == "assigned" and claimed.json["engineer_id"] == engineer.id
    assert client.get("/api/v1/dispatch/pool").json["total"] == 0
    assert api_as("dispatcher").get("/api/v1/dispatch/pool").status_code == 403


def test_two_dispatchers_assigning_the_same_request_one_gets_409(
    api_as, db, engineer_factory, request_factory
):
    first_engineer, second_engineer = engineer_factory(), engineer_factory()
    sr = request_factory()
    one, two = api_as("dispatcher"), api_as("dispatcher")
    ok = one.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": sr.version, "engineer_id": first_engineer.id}
    )
    late = two.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": sr.version, "engineer_id": second_engineer.id}
    )
    assert ok.status_code == 200 and late.status_code == 409
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).engineer_id == first_engineer.id


def _race(app, calls):
    """Run *calls* (functions of a test client) at the same moment in threads; their status codes."""
    barrier = threading.Barrier(len(calls))
    statuses = [None] * len(calls)

    def go(i, call):
        client = app.test_client()
        barrier.wait(10)
        statuses[i] = call(client)

    threads = [threading.Thread(target=go, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(statuses)


@pytest.mark.postgres
def test_concurrent_assignments_one_winner(app, api_as, db, engineer_factory, request_factory):
    engineers = [engineer_factory() for _ in range(4)]
    sr = request_factory()
    clients = [api_as("dispatcher") for _ in engineers]
    url, version = f"/api/v1/requests/{sr.id}/assign", sr.version

    def call(api, engineer_id):
        return lambda client: (
            client.post(
                url, json={"version": version, "engineer_id": engineer_id}, headers=api.headers
            ).status_code
        )

    calls = [call(api, e.id) for api, e in zip(clients, engineers, strict=True)]
    assert _race(app, calls) == [200, 409, 409, 409]
    db.session.expire_all()
    events = db.session.get(ServiceRequest, sr.id).events
    assert [e.action for e in events].count("assign") == 1


@pytest.mark.postgres
def test_the_claim_race_has_one_winner(app, api_as, db, engineer_factory, request_factory):
    engineers = [engineer_factory() for _ in range(4)]
    sr = request_factory()
    clients = [api_as(user=e.user) for e in engineers]
    url, version = f"/api/v1/requests/{sr.id}/claim", sr.version

    def call(api):
        return lambda client: client.post(url, json={"version": version}, headers=api.headers).status_code

    assert _race(app, [call(api) for api in clients]) == [200, 409, 409, 409]
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).engineer_id in {e.id for e in engineers}
    assert db.session.get(ServiceRequest, sr.id).status == "assigned"


@pytest.mark.postgres
def test_overlapping_automatic_dispatches_respect_the_cap(app, api_as, db, engineer_factory, request_factory):
    engineer = engineer_factory(max_open_jobs=3)
    requests = [request_factory() for _ in range(6)]
    apis = [api_as("dispatcher"), api_as("manager")]
    halves = [[sr.id for sr in requests[:3]] + [requests[5].id], [sr.id for sr in requests[2:]]]

    def call(api, ids):
        return lambda client: (
            client.post("/api/v1/dispatch/auto", json={"request_ids": ids}, headers=api.headers).status_code
        )

    assert _race(app, [call(a, ids) for a, ids in zip(apis, halves, strict=True)]) == [200, 200]
    db.session.expire_all()
    held = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ServiceRequest)
        .where(ServiceRequest.engineer_id == engineer.id)
    )
    assert held == 3
