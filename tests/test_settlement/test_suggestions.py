"""The fault chosen from the knowledge base suggests its usual repair items: the items most often recorded on visits
with that fault, on the API, in the phone's cached reference data and on the console's visit items page."""

from fieldservice.knowledge import operations as kops
from fieldservice.settlement import operations as ops
from tests.test_settlement.test_claims import warranty_visit  # noqa: F401 - fixture


def _entry(db, manager, symptom="不出水"):
    entry = kops.create_entry(
        {
            "symptom": symptom,
            "category": "water_purifier",
            "status": "published",
            "causes": [{"description": "滤芯堵塞", "solutions": [{"summary": "更换滤芯", "steps": []}]}],
        },
        manager,
    )
    db.session.commit()
    return entry


def _visit_with_fault(db, warranty_visit, fault, items):  # noqa: F811
    visit = warranty_visit(items=items, approve=False)
    visit.fault_id = fault.id
    db.session.commit()
    return visit


def test_the_items_most_recorded_with_a_fault_come_first(db, manager, make_item, warranty_visit, api_as):  # noqa: F811
    fault, other = _entry(db, manager), _entry(db, manager, "漏水")
    filter_, pump, seal = make_item(), make_item(), make_item()
    retired = make_item()
    _visit_with_fault(db, warranty_visit, fault, [(filter_, 1), (pump, 1)])
    _visit_with_fault(db, warranty_visit, fault, [(filter_, 2)])
    _visit_with_fault(db, warranty_visit, fault, [(filter_, 1), (retired, 1)])
    _visit_with_fault(db, warranty_visit, other, [(seal, 1)])
    ops.update_repair_item(retired, {"active": False}, manager)
    db.session.commit()
    assert ops.suggested_items([fault.id]) == {fault.id: [filter_.id, pump.id]}
    assert ops.suggested_items(categories=["air_conditioner"]) == {}
    api = api_as("engineer")
    answer = api.get("/api/v1/repair-items/suggested", query_string={"fault_id": fault.id})
    assert answer.status_code == 200 and [i["id"] for i in answer.json] == [filter_.id, pump.id]
    assert api.get("/api/v1/repair-items/suggested", query_string={"fault_id": 999999}).json == []
    assert api.get("/api/v1/repair-items/suggested", query_string={"fault_id": "x"}).status_code == 422


def test_the_phone_gets_the_suggestions_with_its_catalog(db, manager, make_item, warranty_visit, engineer, api_as):  # noqa: F811
    fault = _entry(db, manager)
    item = make_item()
    _visit_with_fault(db, warranty_visit, fault, [(item, 1)])
    pulled = api_as(user=engineer.user).get("/api/v1/sync").json
    assert pulled["reference"]["repair_item_suggestions"] == [{"fault_id": fault.id, "repair_item_ids": [item.id]}]


def test_the_console_marks_the_usual_items_first(db, manager, make_item, warranty_visit, console_as):  # noqa: F811
    fault = _entry(db, manager)
    make_item()
    usual = make_item()
    _visit_with_fault(db, warranty_visit, fault, [(usual, 1)])
    visit = _visit_with_fault(db, warranty_visit, fault, [])
    page = console_as("manager").get(f"/settlement/visits/{visit.id}/items").get_data(as_text=True)
    assert f'data-testid="suggested-{usual.id}"' in page and "该故障常用" in page
    assert page.index(usual.code) < page.index("WP-01")
