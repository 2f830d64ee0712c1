"""The PWA's side of settlement over /api/v1/sync: the catalog and the returned visits in the pull, items and a
resubmission as offline ops (applied once, a replay is a duplicate)."""

from fieldservice.settlement.models import Verification
from tests.test_sync.conftest import op


def _sync(api, *ops):
    response = api.post("/api/v1/sync", json={"ops": list(ops)})
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_the_pull_carries_the_catalog_of_the_engineers_skills(api_as, make_item, engineer):
    mine = make_item()
    make_item(category="elevator")
    make_item(active=False)
    reference = api_as(user=engineer.user).get("/api/v1/sync").json["reference"]
    assert [i["id"] for i in reference["repair_items"]] == [mine.id]
    assert reference["repair_items"][0]["standard_hours"] == "1.00"


def test_a_returned_visit_is_corrected_and_resubmitted_offline(api_as, make_item, resolved_visit, engineer, db):
    wrong, right = make_item(), make_item(standard_hours="2.00")
    visit = resolved_visit(items=[(wrong, 1)])
    v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
    api_as("manager").post(f"/api/v1/verifications/{v.id}/return", json={"version": v.version, "reason": "项目不对"})

    phone = api_as(user=engineer.user)
    returned = phone.get("/api/v1/sync").json["reference"]["returned_visits"]
    assert [(r["visit_id"], r["reason"]) for r in returned] == [(visit.id, "项目不对")]
    items_op = op("visit_items", visit.request_id, {"visit_id": visit.id, "items": [{"repair_item_id": right.id}]})
    resubmit_op = op("resubmit", visit.request_id, {"visit_id": visit.id, "version": returned[0]["version"]})
    results = _sync(phone, items_op, resubmit_op)
    assert [r["status"] for r in results] == ["applied", "applied"], results
    assert _sync(phone, resubmit_op)[0]["status"] == "duplicate"
    db.session.expire_all()
    v = db.session.get(Verification, v.id)
    assert (v.status, v.rounds) == ("pending", 2)
    assert phone.get("/api/v1/sync").json["reference"]["returned_visits"] == []


def test_an_op_on_a_frozen_visit_is_rejected_with_why(api_as, make_item, resolved_visit, engineer, db):
    item = make_item()
    visit = resolved_visit(items=[(item, 1)])
    v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
    api_as("manager").post(f"/api/v1/verifications/{v.id}/approve", json={"version": v.version})
    body = {"visit_id": visit.id, "items": [{"repair_item_id": item.id, "quantity": 2}]}
    result = _sync(api_as(user=engineer.user), op("visit_items", visit.request_id, body))[0]
    assert result["status"] == "rejected" and result["error"]["code"] == "visit_frozen"


def test_a_visit_of_another_job_is_refused(api_as, make_item, resolved_visit, engineer):
    visit = resolved_visit(items=[(make_item(), 1)])
    body = {"visit_id": visit.id + 1000, "items": []}
    result = _sync(api_as(user=engineer.user), op("visit_items", visit.request_id, body))[0]
    assert result["status"] == "rejected" and result["error"]["code"] == "not_found"


def test_the_pull_carries_the_engineers_own_statements(api_as, db, engineer, make_engineer):
    from fieldservice.settlement.operations import build_statement

    mine = build_statement(engineer.id, "2026-10", None)
    build_statement(make_engineer().id, "2026-10", None)
    db.session.commit()
    statements = api_as(user=engineer.user).get("/api/v1/sync").json["reference"]["statements"]
    assert [(s["id"], s["period"], s["status"], s["total"]) for s in statements] == [
        (mine.id, "2026-10", "draft", "0.00")
    ]
