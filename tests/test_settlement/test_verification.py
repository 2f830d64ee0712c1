"""Verification (核销): the queue, approve / return / resubmit as a table, frozen visits, bulk approval of clean
visits, and two managers racing on PostgreSQL."""

import threading

import pytest

from fieldservice.auth.models import User
from fieldservice.core.errors import ApiError
from fieldservice.extensions import db as _db
from fieldservice.settlement import operations as ops
from fieldservice.settlement.models import Verification


def _verification(db, visit) -> Verification:
    db.session.expire_all()
    return db.session.query(Verification).filter_by(visit_id=visit.id).one()


def test_a_resolved_visit_enters_the_queue_an_unresolved_one_does_not(api_as, make_item, resolved_visit, db):
    visit = resolved_visit(items=[(make_item(), 1)])
    queue = api_as("manager").get("/api/v1/verifications").json
    assert [v["visit_id"] for v in queue["items"]] == [visit.id]
    assert queue["items"][0]["status"] == "pending"


def test_approve_freezes_the_visit(api_as, make_item, resolved_visit, engineer, db):
    item = make_item()
    visit = resolved_visit(items=[(item, 1)])
    v = _verification(db, visit)
    approved = api_as("manager").post(f"/api/v1/verifications/{v.id}/approve", json={"version": v.version})
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    for api in (api_as(user=engineer.user), api_as("manager")):
        frozen = api.put(
            f"/api/v1/visits/{visit.id}/items", json={"items": [{"repair_item_id": item.id, "quantity": 3}]}
        )
        assert frozen.status_code == 409
        assert frozen.json["error"]["code"] == "visit_frozen"
    assert api_as("manager").get(f"/api/v1/visits/{visit.id}/items").json["items"][0]["quantity"] == 1


def test_return_needs_a_reason_then_the_engineer_corrects_and_resubmits(
    api_as, make_item, resolved_visit, engineer, db
):
    wrong, right = make_item(), make_item(standard_hours="2.00")
    visit = resolved_visit(items=[(wrong, 1)], hours="2.0")
    v = _verification(db, visit)
    manager = api_as("manager")
    no_reason = manager.post(f"/api/v1/verifications/{v.id}/return", json={"version": v.version})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["error"]["fields"]
    returned = manager.post(f"/api/v1/verifications/{v.id}/return", json={"version": v.version, "reason": "项目选错"})
    assert returned.json["status"] == "returned" and returned.json["reason"] == "项目选错"

    mine = api_as(user=engineer.user)
    assert [x["id"] for x in mine.get("/api/v1/verifications?status=returned").json["items"]] == [v.id]
    assert (
        mine.put(f"/api/v1/visits/{visit.id}/items", json={"items": [{"repair_item_id": right.id}]}).status_code == 200
    )
    resubmitted = mine.post(f"/api/v1/verifications/{v.id}/resubmit", json={"version": returned.json["version"]})
    assert resubmitted.status_code == 200
    assert (resubmitted.json["status"], resubmitted.json["rounds"]) == ("pending", 2)

    events = [e["action"] for e in manager.get(f"/api/v1/requests/{visit.request_id}/events").json]
    assert events[-3:] == ["verification_return", "visit_items", "verification_resubmit"]


@pytest.mark.parametrize(
    ("role", "action", "status"),
    [("engineer", "approve", 403), ("dispatcher", "approve", 403), ("manager", "resubmit", 403)],
)
def test_who_may_take_each_step(api_as, make_item, resolved_visit, db, role, action, status):
    visit = resolved_visit(items=[(make_item(), 1)])
    v = _verification(db, visit)
    assert (
        api_as(role).post(f"/api/v1/verifications/{v.id}/{action}", json={"version": v.version}).status_code == status
    )


def test_an_illegal_step_or_a_stale_version_is_a_409(api_as, make_item, resolved_visit, engineer, db):
    visit = resolved_visit(items=[(make_item(), 1)])
    v = _verification(db, visit)
    manager = api_as("manager")
    assert manager.post(f"/api/v1/verifications/{v.id}/approve", json={"version": v.version + 1}).status_code == 409
    approved = manager.post(f"/api/v1/verifications/{v.id}/approve", json={"version": v.version}).json
    again = manager.post(f"/api/v1/verifications/{v.id}/return", json={"version": approved["version"], "reason": "x"})
    assert again.status_code == 409 and again.json["error"]["code"] == "illegal_transition"
    resubmit = api_as(user=engineer.user).post(
        f"/api/v1/verifications/{v.id}/resubmit", json={"version": approved["version"]}
    )
    assert resubmit.status_code == 409


def test_bulk_approval_takes_only_the_clean_pending_visits(api_as, make_item, resolved_visit, db):
    item = make_item(standard_hours="1.00")
    clean = resolved_visit(items=[(item, 1)], hours="1.0")
    v = _verification(db, clean)
    answer = api_as("manager").post("/api/v1/verifications/bulk-approve", json={"ids": [v.id, 999999]})
    assert answer.json["approved"] == [v.id]
    assert answer.json["skipped"] == [{"id": 999999, "reasons": ["not_found"]}]
    again = api_as("manager").post("/api/v1/verifications/bulk-approve", json={"ids": [v.id]})
    assert again.json == {"approved": [], "skipped": [{"id": v.id, "reasons": ["status_approved"]}]}


def test_the_rules_name_why_a_visit_is_not_clean(make_item, resolved_visit, db, part, stock_van):
    from fieldservice.parts.models import StockMovement

    item = make_item(standard_hours="1.00")
    stock_van(part, 2)
    visit = resolved_visit(items=[(item, 1)], hours="3.0", signed=False, parts=[{"part_id": part.id, "qty": 1}])
    v = _verification(db, visit)
    assert ops.problems_of([v])[v.id] == ["overrun", "no_signature"]
    # A ledger line taken away (as if the stock never left the van): the parts no longer match.
    db.session.query(StockMovement).filter_by(visit_id=visit.id).delete()
    db.session.commit()
    assert ops.problems_of([v])[v.id] == ["overrun", "no_signature", "parts_mismatch"]


def test_a_visit_without_items_is_not_clean(resolved_visit, db):
    visit = resolved_visit(hours="1.0")
    v = _verification(db, visit)
    assert ops.problems_of([v])[v.id] == ["no_items"]


@pytest.mark.postgres
def test_two_managers_racing_exactly_one_wins(app, db, make_item, resolved_visit, make_user):
    visit = resolved_visit(items=[(make_item(), 1)])
    v = _verification(db, visit)
    managers = [make_user("manager").id, make_user("manager").id]
    verification_id, version = v.id, v.version
    db.session.commit()
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i):
        with app.app_context():
            try:
                actor = _db.session.get(User, managers[i])
                row = _db.session.get(Verification, verification_id)
                barrier.wait(10)
                action, reason = ("approve", None) if i == 0 else ("return", "工时不对")
                results[i] = ops.perform_verification(row, action, actor, version, reason).status
                _db.session.commit()
            except ApiError as exc:
                _db.session.rollback()
                results[i] = exc.code
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) in (["approved", "stale_version"], ["returned", "stale_version"])
    final = _verification(db, visit)
    assert final.status in ("approved", "returned") and final.version == version + 1
    steps = [e for e in final.visit.request.events if e.action.startswith("verification_")]
    assert len(steps) == 1
