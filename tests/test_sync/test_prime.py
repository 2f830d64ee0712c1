"""Priming: GET /api/v1/sync/prime and /sync/prime/<kind>, the engineer's offline set in resumable pages."""

from datetime import timedelta
from decimal import Decimal

import pytest

from fieldservice.appointments.models import Appointment
from fieldservice.core.models import utcnow
from fieldservice.knowledge.models import KnowledgeCause, KnowledgeEntry, KnowledgeSolution
from fieldservice.parts.models import Part, StockLevel, Warehouse
from fieldservice.settlement.models import RepairItem

KINDS = {"jobs", "appointments", "history", "stock", "problem_types", "repair_items", "knowledge", "parts"}


def _entry(category: str, status: str = "published") -> KnowledgeEntry:
    entry = KnowledgeEntry(category=category, symptom=f"{category} 漏水", status=status)
    entry.causes = [KnowledgeCause(description="密封圈老化", solutions=[KnowledgeSolution(summary="更换密封圈")])]
    return entry


@pytest.fixture
def offline_set(db, make_job, engineer, make_engineer):
    """Three jobs of the engineer (two on units with earlier requests), a colleague's job, parts, a van with
    stock, knowledge and repair items of the engineer's skill and of another, an appointment."""
    colleague = make_engineer(skills=["printer"], name="李师傅")
    jobs = [make_job(engineer) for _ in range(3)]
    earlier = [make_job(None, equipment_id=j.equipment_id, customer_id=j.customer_id) for j in jobs[:2]]
    theirs = make_job(colleague, service_category="water_purifier")
    parts = [Part(part_number=f"P-{n}", name=f"滤芯{n}", category="water_purifier") for n in range(5)]
    parts.append(Part(part_number="P-OLD", name="停产件", category="water_purifier", active=False))
    db.session.add_all(parts)
    van = Warehouse(code=f"VAN-{engineer.id}", name="张师傅", kind="van", engineer_id=engineer.id)
    their_van = Warehouse(code=f"VAN-{colleague.id}", name="李师傅", kind="van", engineer_id=colleague.id)
    db.session.add_all([van, their_van])
    db.session.flush()
    db.session.add_all(
        [StockLevel(warehouse_id=van.id, part_id=p.id, qty=2) for p in parts[:3]]
        + [StockLevel(warehouse_id=van.id, part_id=parts[3].id, qty=0)]
        + [StockLevel(warehouse_id=their_van.id, part_id=parts[0].id, qty=9)]
    )
    db.session.add_all(
        [_entry("water_purifier") for _ in range(4)] + [_entry("water_purifier", "draft"), _entry("printer")]
    )
    db.session.add_all(
        [
            RepairItem(category="water_purifier", code=f"R{n}", name_zh="换膜", name_en="Membrane", standard_hours=1)
            for n in range(3)
        ]
        + [RepairItem(category="printer", code="R9", name_zh="换辊", name_en="Roller", standard_hours=Decimal("0.5"))]
    )
    now = utcnow()
    db.session.add_all(
        [
            Appointment(
                request_id=jobs[0].id,
                engineer_id=engineer.id,
                starts_at=now + timedelta(hours=2),
                ends_at=now + timedelta(hours=3),
            ),
            Appointment(
                request_id=jobs[1].id,
                engineer_id=engineer.id,
                starts_at=now + timedelta(days=12),
                ends_at=now + timedelta(days=12, hours=1),
            ),
        ]
    )
    db.session.commit()
    return {"jobs": jobs, "earlier": earlier, "theirs": theirs}


def prime_all(phone, kind: str, limit: int) -> list[dict]:
    items, after, pages = [], None, 0
    while True:
        query = {"limit": limit} | ({"after": after} if after else {})
        response = phone.get(f"/api/v1/sync/prime/{kind}", query_string=query)
        assert response.status_code == 200, response.json
        page = response.json
        assert page["kind"] == kind
        assert len(page["items"]) <= limit
        items += page["items"]
        pages += 1
        after = page["next"]
        if after is None:
            return items
        assert pages < 100


def test_the_summary_counts_equal_the_items_over_the_pages(phone, offline_set):
    summary = phone.get("/api/v1/sync/prime").json
    assert set(summary["kinds"]) == KINDS
    assert summary["as_of"]
    for kind in KINDS:
        items = prime_all(phone, kind, limit=2)
        assert len(items) == summary["kinds"][kind], kind
        ids = [item["id"] for item in items]
        assert len(set(ids)) == len(ids), kind
    assert summary["kinds"] == {
        "jobs": 3,
        "appointments": 1,
        "history": 2,
        "stock": 3,
        "problem_types": 1,
        "repair_items": 3,
        "knowledge": 4,
        "parts": 5,
    }


def test_the_jobs_are_the_objects_the_pull_sends(phone, offline_set):
    primed = prime_all(phone, "jobs", limit=500)
    pulled = phone.get("/api/v1/sync").json["jobs"]
    assert sorted(primed, key=lambda j: j["id"]) == sorted(pulled, key=lambda j: j["id"])
    assert {j["id"] for j in primed} == {j.id for j in offline_set["jobs"]}


def test_the_history_is_each_units_earlier_requests(phone, offline_set):
    history = prime_all(phone, "history", limit=500)
    assert {h["id"] for h in history} == {sr.id for sr in offline_set["earlier"]}
    units = {offline_set["jobs"][0].equipment_id, offline_set["jobs"][1].equipment_id}
    assert {h["equipment_id"] for h in history} == units
    assert {"number", "status", "problem_type", "visits"} <= set(history[0])


def test_an_interrupted_priming_resumes_after_the_last_page_received(phone, offline_set):
    first = phone.get("/api/v1/sync/prime/parts", query_string={"limit": 2}).json
    assert first["total"] == 5 and first["next"]
    # The phone lost its signal here; later it asks again from the key it kept.
    rest = phone.get("/api/v1/sync/prime/parts", query_string={"limit": 500, "after": first["next"]}).json
    assert rest["next"] is None
    ids = [p["id"] for p in first["items"] + rest["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_the_summary_cursor_pulls_what_changed_after_priming(phone, offline_set, api_as, dispatcher):
    summary = phone.get("/api/v1/sync/prime").json
    job = offline_set["jobs"][2]
    office = api_as(user=dispatcher)
    version = office.get(f"/api/v1/requests/{job.id}").json["version"]
    assert (
        office.patch(f"/api/v1/requests/{job.id}", json={"version": version, "engineer_note": "新"}).status_code == 200
    )
    pulled = phone.get("/api/v1/sync", query_string={"since": summary["cursor"]}).json
    assert job.id in {j["id"] for j in pulled["jobs"]}
    assert pulled["removed"] == []


@pytest.mark.parametrize(
    "path, query, status, code",
    [
        ("/api/v1/sync/prime/nothing", {}, 404, "not_found"),
        ("/api/v1/sync/prime/parts", {"after": "forged"}, 422, "invalid_key"),
        ("/api/v1/sync/prime/parts", {"limit": 0}, 422, "validation_failed"),
        ("/api/v1/sync/prime/parts", {"limit": 501}, 422, "validation_failed"),
        ("/api/v1/sync/prime/parts", {"limit": "many"}, 422, "validation_failed"),
    ],
)
def test_bad_priming_requests_are_refused(phone, offline_set, path, query, status, code):
    response = phone.get(path, query_string=query)
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_a_key_of_another_kind_is_refused(phone, offline_set):
    key = phone.get("/api/v1/sync/prime/parts", query_string={"limit": 1}).json["next"]
    response = phone.get("/api/v1/sync/prime/knowledge", query_string={"after": key})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"after": "Not a key of this kind."}


def test_priming_is_for_engineers_with_a_token(api_as, client, offline_set):
    assert api_as("dispatcher").get("/api/v1/sync/prime").status_code == 403
    assert client.get("/api/v1/sync/prime").status_code == 401
    assert client.get("/api/v1/sync/prime/parts").status_code == 401
