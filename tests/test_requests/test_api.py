"""API.md "Service requests" through the Flask client: shapes, visibility, actions, visits, errors."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops
from fieldservice.requests.models import RequestEvent, ServiceRequest, Visit
from fieldservice.requests.schemas import ACTION_ARGS

from .conftest import visit_data


def iso(dt):
    return dt.isoformat()


def body_for(customer, **kw):
    data = {
        "customer_id": customer.id,
        "problem_type": "no_cooling",
        "description": "冷库温度降不下来",
        "priority": 2,
        "required_by": iso(utcnow() + timedelta(days=1)),
    }
    data.update(kw)
    return data


def visit_body(outcome="resolved", **kw):
    return {k: iso(v) if hasattr(v, "isoformat") else v for k, v in visit_data(outcome, **kw).items()}


def version_of(db, sr):
    """The request's version now (the API needs the one the caller read)."""
    db.session.expire_all()
    return db.session.get(ServiceRequest, sr.id).version


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def dispatcher(api_as):
    return api_as("dispatcher")


def test_create_answers_201_with_the_documented_fields(dispatcher, make_equipment, problem_types):
    unit = make_equipment()
    response = dispatcher.post(
        "/api/v1/requests", json=body_for(unit.customer, equipment_id=unit.id, channel="wechat")
    )
    assert response.status_code == 201, response.json
    sr = response.json
    for key in (
        "id",
        "number",
        "status",
        "version",
        "priority",
        "required_by",
        "response_due",
        "resolution_due",
        "engineer_id",
        "visit_count",
    ):
        assert key in sr
    assert (sr["status"], sr["product_id"], sr["engineer_id"], sr["visit_count"]) == (
        "awaiting_assignment",
        unit.product_id,
        None,
        0,
    )
    assert sr["required_by"].endswith("+00:00") or sr["required_by"].endswith("Z")
    assert "assign" in sr["actions"]


def test_create_suspended(dispatcher, make_customer, make_product, problem_types):
    response = dispatcher.post(
        "/api/v1/requests", json=body_for(make_customer(), product_id=make_product().id, suspended=True)
    )
    assert response.status_code == 201 and response.json["status"] == "suspended"


def test_required_by_accepts_a_date_or_a_local_time(dispatcher, make_customer, make_product, problem_types):
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    response = dispatcher.post(
        "/api/v1/requests", json=body_for(make_customer(), product_id=make_product().id, required_by=tomorrow)
    )
    assert response.status_code == 201
    assert response.json["required_by"].startswith(tomorrow + "T15:59")  # 23:59 in Shanghai is 15:59 UTC


@pytest.mark.parametrize(
    "role, status", [("engineer", 403), ("callback", 403), ("manager", 201), ("admin", 201)]
)
def test_create_roles(api_as, make_customer, make_product, problem_types, role, status):
    response = api_as(role).post(
        "/api/v1/requests", json=body_for(make_customer(), product_id=make_product().id)
    )
    assert response.status_code == status


def test_create_422_names_every_bad_field_and_changes_nothing(dispatcher, make_customer, problem_types, db):
    response = dispatcher.post(
        "/api/v1/requests",
        json={
            "customer_id": make_customer().id,
            "priority": 9,
            "required_by": "tomorrow-ish",
            "channel": "fax",
        },
    )
    assert response.status_code == 422
    assert response.json["error"]["code"]
    assert {"problem_type", "description", "priority", "required_by", "channel"} <= set(
        response.json["error"]["fields"]
    )
    response = dispatcher.post(
        "/api/v1/requests", json=body_for(make_customer(), problem_type="old", customer_id=123456)
    )
    assert response.status_code == 422
    assert {"customer_id", "problem_type"} <= set(response.json["error"]["fields"])
    assert count(db, ServiceRequest) == 0 and count(db, RequestEvent) == 0


def test_malformed_json_is_400_and_anonymous_is_401(dispatcher, client):
    response = dispatcher.post(
        "/api/v1/requests", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json["error"]["code"]
    assert client.get("/api/v1/requests").status_code == 401


def test_list_is_paged_filtered_and_sorted_by_due(dispatcher, make_request, make_customer, engineer, db):
    later = make_request(required_by=utcnow() + timedelta(days=5))
    sooner = make_request(required_by=utcnow() + timedelta(days=1))
    acme = make_customer(name="安科实业", phone="13911112222")
    theirs = make_request(customer=acme)
    response = dispatcher.get("/api/v1/requests?status=awaiting_assignment&per_page=2")
    assert response.status_code == 200
    assert response.json["total"] == 3 and len(response.json["items"]) == 2
    assert response.json["items"][0]["id"] == sooner.id
    page2 = dispatcher.get("/api/v1/requests?status=awaiting_assignment&per_page=2&page=2").json
    assert [i["id"] for i in page2["items"]] == [later.id]
    assert [i["id"] for i in dispatcher.get(f"/api/v1/requests?customer_id={acme.id}").json["items"]] == [
        theirs.id
    ]
    assert [i["id"] for i in dispatcher.get("/api/v1/requests?q=安科").json["items"]] == [theirs.id]
    assert [i["id"] for i in dispatcher.get(f"/api/v1/requests?q={theirs.number}").json["items"]] == [
        theirs.id
    ]
    assert dispatcher.get("/api/v1/requests?status=resolved").json["total"] == 0
    assert dispatcher.get("/api/v1/requests?status=bogus").status_code == 422
    assert dispatcher.get("/api/v1/requests?per_page=1000").status_code == 422
    dispatcher.post(
        f"/api/v1/requests/{later.id}/assign", json={"version": later.version, "engineer_id": engineer.id}
    )
    assert [i["id"] for i in dispatcher.get(f"/api/v1/requests?engineer_id={engineer.id}").json["items"]] == [
        later.id
    ]


def test_get_and_events(dispatcher, make_request, engineer):
    sr = make_request()
    dispatcher.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": sr.version, "engineer_id": engineer.id}
    )
    got = dispatcher.get(f"/api/v1/requests/{sr.id}")
    assert (
        got.status_code == 200 and got.json["status"] == "assigned" and got.json["engineer_id"] == engineer.id
    )
    events = dispatcher.get(f"/api/v1/requests/{sr.id}/events").json
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("create", None, "awaiting_assignment"),
        ("assign", "awaiting_assignment", "assigned"),
    ]
    assert {"at", "actor", "action", "from_status", "to_status", "note"} <= set(events[0])
    assert dispatcher.get("/api/v1/requests/99999").status_code == 404


def test_visibility_per_role(api_as, make_request, engineer, make_engineer, db):
    mine = make_request()
    pool = make_request()
    hvac_request = make_request(service_category="hvac")
    api_as("dispatcher").post(
        f"/api/v1/requests/{mine.id}/assign", json={"version": mine.version, "engineer_id": engineer.id}
    )
    other = make_engineer(skills=["water_purifier"])
    api_as("dispatcher").post(
        f"/api/v1/requests/{hvac_request.id}/assign",
        json={"version": hvac_request.version, "engineer_id": make_engineer(skills=["hvac"]).id},
    )
    as_engineer = api_as("engineer", user=engineer.user)
    seen = {i["id"] for i in as_engineer.get("/api/v1/requests").json["items"]}
    assert seen == {mine.id, pool.id}
    assert as_engineer.get(f"/api/v1/requests/{hvac_request.id}").status_code == 404
    # Another engineer with the skill sees the pool, not a colleague's job.
    assert {i["id"] for i in api_as("engineer", user=other.user).get("/api/v1/requests").json["items"]} == {
        pool.id
    }
    # Callback agents read resolved requests only.
    callback = api_as("callback")
    assert callback.get("/api/v1/requests").json["total"] == 0
    api_as("engineer", user=engineer.user).post(f"/api/v1/requests/{mine.id}/visits", json=visit_body())
    assert [i["id"] for i in callback.get("/api/v1/requests").json["items"]] == [mine.id]
    assert callback.get(f"/api/v1/requests/{pool.id}/events").status_code == 404
    assert api_as("manager").get("/api/v1/requests").json["total"] == 3


def test_action_409_on_stale_version_and_nothing_changes(dispatcher, make_request, db):
    sr = make_request()
    version = sr.version
    assert dispatcher.post(f"/api/v1/requests/{sr.id}/suspend", json={"version": version}).status_code == 200
    response = dispatcher.post(f"/api/v1/requests/{sr.id}/cancel", json={"version": version, "reason": "x"})
    assert response.status_code == 409 and response.json["error"]["code"] == "stale_version"
    got = dispatcher.get(f"/api/v1/requests/{sr.id}").json
    assert got["status"] == "suspended" and got["version"] == version + 1
    assert len(dispatcher.get(f"/api/v1/requests/{sr.id}/events").json) == 2


def test_action_409_on_illegal_transition(dispatcher, make_request):
    sr = make_request()
    response = dispatcher.post(f"/api/v1/requests/{sr.id}/resume", json={"version": sr.version})
    assert response.status_code == 409 and response.json["error"]["code"] == "illegal_transition"


def test_action_422_and_nothing_changes(dispatcher, make_request, db):
    sr = make_request()
    version = sr.version
    response = dispatcher.post(f"/api/v1/requests/{sr.id}/cancel", json={"version": version})
    assert response.status_code == 422 and "reason" in response.json["error"]["fields"]
    response = dispatcher.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": version, "engineer_id": 4242}
    )
    assert response.status_code == 422 and "engineer_id" in response.json["error"]["fields"]
    response = dispatcher.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": "two", "engineer_id": "x"}
    )
    assert response.status_code == 422
    got = dispatcher.get(f"/api/v1/requests/{sr.id}").json
    assert (got["status"], got["version"]) == ("awaiting_assignment", version)


@pytest.mark.parametrize("action", sorted(ACTION_ARGS))
def test_every_api_action_requires_version_and_nothing_changes(dispatcher, make_request, engineer, action):
    sr = make_request()
    version = sr.version
    body = {"engineer_id": engineer.id, "reason": "客户要求", "note": "x", "satisfied": True}
    response = dispatcher.post(f"/api/v1/requests/{sr.id}/{action}", json=body)
    assert response.status_code == 422, response.json
    assert "version" in response.json["error"]["fields"]
    got = dispatcher.get(f"/api/v1/requests/{sr.id}").json
    assert (got["status"], got["version"], got["engineer_id"]) == ("awaiting_assignment", version, None)
    assert len(dispatcher.get(f"/api/v1/requests/{sr.id}/events").json) == 1


def test_operations_keep_version_optional_for_internal_callers(make_request, make_user, engineer, db):
    sr = make_request()
    ops.perform(sr, "assign", make_user("dispatcher"), None, engineer_id=engineer.id)
    ops.perform(sr, "urge", None, None, note="客户扫码催单")
    assert (sr.status, sr.urged, sr.engineer_id) == ("assigned", True, engineer.id)


def test_action_403_by_role(api_as, make_request, engineer, db):
    sr = make_request()
    assert (
        api_as("callback")
        .post(
            f"/api/v1/requests/{sr.id}/assign",
            json={"version": version_of(db, sr), "engineer_id": engineer.id},
        )
        .status_code
        == 404
    )
    assert (
        api_as("engineer", user=engineer.user)
        .post(
            f"/api/v1/requests/{sr.id}/assign",
            json={"version": version_of(db, sr), "engineer_id": engineer.id},
        )
        .status_code
        == 403
    )
    assert (
        api_as("engineer", user=engineer.user)
        .post(f"/api/v1/requests/{sr.id}/cancel", json={"version": version_of(db, sr), "reason": "x"})
        .status_code
        == 403
    )
    assert api_as("dispatcher").post(f"/api/v1/requests/{sr.id}/fly", json={}).status_code == 404


def test_claim_and_urge(api_as, make_request, engineer, db):
    sr = make_request()
    as_engineer = api_as("engineer", user=engineer.user)
    response = as_engineer.post(f"/api/v1/requests/{sr.id}/claim", json={"version": sr.version})
    assert response.status_code == 200 and response.json["engineer_id"] == engineer.id
    response = api_as("callback").post(
        f"/api/v1/requests/{sr.id}/urge", json={"version": sr.version, "note": "x"}
    )
    assert response.status_code == 404  # a callback agent does not see an open request
    response = as_engineer.post(
        f"/api/v1/requests/{sr.id}/urge", json={"version": version_of(db, sr), "note": "客户催促"}
    )
    assert (
        response.status_code == 200
        and response.json["urged"] is True
        and response.json["status"] == "assigned"
    )


def test_visits_full_loop(api_as, make_request, engineer, make_engineer, db):
    sr = make_request()
    dispatcher = api_as("dispatcher")
    dispatcher.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": version_of(db, sr), "engineer_id": engineer.id}
    )
    as_engineer = api_as("engineer", user=engineer.user)
    other = api_as("engineer", user=make_engineer().user)
    assert other.post(f"/api/v1/requests/{sr.id}/visits", json=visit_body()).status_code == 404  # not theirs
    assert dispatcher.post(f"/api/v1/requests/{sr.id}/visits", json=visit_body()).status_code == 403
    response = as_engineer.post(
        f"/api/v1/requests/{sr.id}/visits", json=visit_body("unresolved", labour_hours="abc")
    )
    assert response.status_code == 422 and "labour_hours" in response.json["error"]["fields"]
    assert count(db, Visit) == 0
    response = as_engineer.post(
        f"/api/v1/requests/{sr.id}/visits",
        json=visit_body(
            "resolved",
            costs=[{"kind": "travel", "amount": 60}],
            signature="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        ),
    )
    assert response.status_code == 201, response.json
    assert response.json["outcome"] == "resolved" and response.json["signature_id"]
    assert dispatcher.get(f"/api/v1/requests/{sr.id}").json["status"] == "resolved"
    callback = api_as("callback")
    current = callback.get(f"/api/v1/requests/{sr.id}").json
    assert current["actions"] == ["revisit"]
    bad = callback.post(
        f"/api/v1/requests/{sr.id}/revisit",
        json={"version": current["version"], "satisfied": True, "scores": {"quality": 6}},
    )
    assert bad.status_code == 422
    done = callback.post(
        f"/api/v1/requests/{sr.id}/revisit",
        json={
            "version": current["version"],
            "satisfied": True,
            "scores": {"timeliness": 5, "attitude": 5, "quality": 5},
        },
    )
    assert done.status_code == 200 and done.json["status"] == "revisited"
    assert len(dispatcher.get(f"/api/v1/requests/{sr.id}/visits").json) == 1


def test_second_unresolved_visit_locks_through_the_api(api_as, make_request, engineer, db):
    sr = make_request()
    dispatcher, manager = api_as("dispatcher"), api_as("manager")
    as_engineer = api_as("engineer", user=engineer.user)
    dispatcher.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": version_of(db, sr), "engineer_id": engineer.id}
    )
    as_engineer.post(f"/api/v1/requests/{sr.id}/visits", json=visit_body("unresolved"))
    assert dispatcher.get(f"/api/v1/requests/{sr.id}").json["status"] == "awaiting_assignment"
    dispatcher.post(
        f"/api/v1/requests/{sr.id}/assign", json={"version": version_of(db, sr), "engineer_id": engineer.id}
    )
    response = as_engineer.post(f"/api/v1/requests/{sr.id}/visits", json=visit_body("unresolved"))
    assert response.status_code == 201
    locked = dispatcher.get(f"/api/v1/requests/{sr.id}").json
    assert locked["status"] == "locked" and locked["visit_count"] == 2
    # Dispatchers cannot move a locked request; the manager can.
    assert (
        dispatcher.post(
            f"/api/v1/requests/{sr.id}/assign",
            json={"version": version_of(db, sr), "engineer_id": engineer.id},
        ).status_code
        == 403
    )
    assert (
        dispatcher.post(
            f"/api/v1/requests/{sr.id}/unlock", json={"version": version_of(db, sr), "reason": "x"}
        ).status_code
        == 403
    )
    response = manager.post(
        f"/api/v1/requests/{sr.id}/unlock", json={"version": locked["version"], "reason": "换人处理"}
    )
    assert response.status_code == 200 and response.json["status"] == "awaiting_assignment"


def test_problem_types_api(api_as, problem_types):
    listed = api_as("engineer").get("/api/v1/problem-types").json
    assert [p["code"] for p in listed] == ["leak", "no_cooling"]  # active ones, by order then code
    manager = api_as("manager")
    assert len(manager.get("/api/v1/problem-types?include_inactive=true").json) == 3
    created = manager.post(
        "/api/v1/problem-types", json={"code": "smell", "name_zh": "异味", "name_en": "Smell"}
    )
    assert created.status_code == 201
    assert (
        manager.post(
            "/api/v1/problem-types", json={"code": "smell", "name_zh": "x", "name_en": "x"}
        ).status_code
        == 422
    )
    assert (
        manager.post(
            "/api/v1/problem-types", json={"code": "Bad Code", "name_zh": "x", "name_en": "x"}
        ).status_code
        == 422
    )
    assert (
        api_as("dispatcher")
        .post("/api/v1/problem-types", json={"code": "z", "name_zh": "z", "name_en": "z"})
        .status_code
        == 403
    )
    pid, version = created.json["id"], created.json["version"]
    assert (
        manager.patch(f"/api/v1/problem-types/{pid}", json={"version": version, "active": False}).status_code
        == 200
    )
    stale = manager.patch(f"/api/v1/problem-types/{pid}", json={"version": version, "name_en": "Odour"})
    assert stale.status_code == 409


def test_openapi_lists_the_request_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/requests",
        "/api/v1/requests/{request_id}",
        "/api/v1/requests/{request_id}/events",
        "/api/v1/requests/{request_id}/assign",
        "/api/v1/requests/{request_id}/visits",
    ):
        assert path in paths


def test_list_pages_read_as_rows_say_what_the_detail_says(dispatcher, make_request, make_equipment, engineer, db):
    """The list is read as plain rows (requests.projection): every sort keeps its order across pages,
    ties broken by id, and each item says what the request's own page says (briefs present or null)."""
    base = utcnow() + timedelta(days=1)
    with_equipment = make_equipment()
    requests = [
        make_request(required_by=base, priority=2),
        make_request(
            required_by=base,
            priority=1,
            customer=with_equipment.customer,
            equipment_id=with_equipment.id,
            product_id=with_equipment.product_id,
        ),
        make_request(required_by=base + timedelta(hours=1), priority=2),
        make_request(required_by=base - timedelta(hours=1), priority=4, product_id=None, service_category="misc"),
    ]
    dispatcher.post(
        f"/api/v1/requests/{requests[2].id}/assign",
        json={"version": version_of(db, requests[2]), "engineer_id": engineer.id},
    )
    db.session.expire_all()
    rows = {sr.id: db.session.get(ServiceRequest, sr.id) for sr in requests}
    orders = {
        "due": lambda sr: (sr.required_by, sr.id),
        "response_due": lambda sr: (sr.response_due, sr.id),
        "priority": lambda sr: (sr.priority, sr.required_by, sr.id),
        "created": lambda sr: (sr.created_at, sr.id),
    }
    for sort, key in orders.items():
        pages = [dispatcher.get(f"/api/v1/requests?sort={sort}&per_page=3&page={n}").json for n in (1, 2)]
        ids = [item["id"] for page in pages for item in page["items"]]
        assert ids == [sr.id for sr in sorted(rows.values(), key=key)], sort
        assert all(page["total"] == 4 for page in pages)
    newest = [i["id"] for i in dispatcher.get("/api/v1/requests?sort=-created").json["items"]]
    assert newest == [sr.id for sr in sorted(rows.values(), key=orders["created"], reverse=True)]
    for item in dispatcher.get("/api/v1/requests?per_page=50").json["items"]:
        detail = dispatcher.get(f"/api/v1/requests/{item['id']}").json
        detail.pop("actions")
        assert item == detail
    listed = {i["id"]: i for i in dispatcher.get("/api/v1/requests").json["items"]}
    assert listed[requests[1].id]["equipment"] == {
        "id": with_equipment.id,
        "serial_number": with_equipment.serial_number,
    }
    assert listed[requests[3].id]["product"] is None and listed[requests[3].id]["equipment"] is None
    assert listed[requests[2].id]["engineer"] == {"id": engineer.id, "name": engineer.name}
    assert listed[requests[0].id]["engineer"] is None
