"""The dispatch API through the Flask client: automatic dispatch, suggestions, the claim pool; roles; bad input;
concurrent assignments and claims."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice.requests.models import ServiceRequest


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


def test_two_dispatchers_assigning_the_same_request_one_gets_409(api_as, db, engineer_factory, request_factory):
    first_engineer, second_engineer = engineer_factory(), engineer_factory()
    sr = request_factory()
    one, two = api_as("dispatcher"), api_as("dispatcher")
    ok = one.post(f"/api/v1/requests/{sr.id}/assign", json={"version": sr.version, "engineer_id": first_engineer.id})
    late = two.post(f"/api/v1/requests/{sr.id}/assign", json={"version": sr.version, "engineer_id": second_engineer.id})
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
            client.post(url, json={"version": version, "engineer_id": engineer_id}, headers=api.headers).status_code
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
        sa.select(sa.func.count()).select_from(ServiceRequest).where(ServiceRequest.engineer_id == engineer.id)
    )
    assert held == 3
