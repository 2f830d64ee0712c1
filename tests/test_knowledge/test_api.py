"""The knowledge base over JSON, through the Flask client (PostgreSQL when DATABASE_URL is set)."""

from datetime import timedelta
from urllib.parse import quote

import sqlalchemy as sa

from fieldservice.knowledge.models import KnowledgeEntry, KnowledgeProposal

from .conftest import cause

ENTRY = {
    "category": "water_purifier",
    "symptom": "机器底部漏水",
    "fault_code": "E5",
    "causes": [
        {
            "description": "快接头密封圈老化",
            "solutions": [
                {
                    "summary": "更换快接头",
                    "steps": ["关闭进水阀", "更换快接头"],
                    "parts": "2 分快接头",
                    "estimated_hours": 0.5,
                }
            ],
        },
    ],
}


def _count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_manager_creates_and_everyone_reads(api_as):
    manager = api_as("manager")
    created = manager.post("/api/v1/knowledge", json={**ENTRY, "status": "published"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["version"] >= 1 and body["status"] == "published" and body["category_label"]
    assert body["causes"][0]["solutions"][0]["estimated_hours"] == 0.5
    for role in ("dispatcher", "engineer", "callback"):
        read = api_as(role).get(f"/api/v1/knowledge/{body['id']}")
        assert read.status_code == 200 and read.get_json()["symptom"] == "机器底部漏水"


def test_only_managers_write(api_as, db):
    for role in ("dispatcher", "engineer", "callback"):
        assert api_as(role).post("/api/v1/knowledge", json=ENTRY).status_code == 403
    assert _count(db, KnowledgeEntry) == 0


def test_bad_entry_is_422_naming_the_fields_and_creates_nothing(api_as, db):
    manager = api_as("manager")
    response = manager.post("/api/v1/knowledge", json={"symptom": "", "status": "gone", "causes": [{}]})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"symptom", "status"} <= set(fields) and any(f.startswith("causes") for f in fields)
    no_scope = manager.post("/api/v1/knowledge", json={**ENTRY, "category": None})
    assert no_scope.status_code == 422 and "category" in no_scope.get_json()["error"]["fields"]
    bad_product = manager.post("/api/v1/knowledge", json={**ENTRY, "product_id": 9999})
    assert bad_product.status_code == 422 and "product_id" in bad_product.get_json()["error"]["fields"]
    assert _count(db, KnowledgeEntry) == 0


def test_search_in_chinese_and_english_with_scores(api_as, make_entry, make_product):
    product = make_product(category="water_purifier")
    make_entry("机器底部漏水")
    make_entry("Water leaking under the unit", causes=[cause("Worn seal", "Replace the seal")])
    make_entry("电梯门关不上", category="elevator")
    api = api_as("dispatcher")
    body = api.get(f"/api/v1/knowledge?q={quote('漏水')}&product_id={product.id}").get_json()
    assert [i["symptom"] for i in body["items"]] == ["机器底部漏水"] and body["total"] == 1
    assert body["items"][0]["score"] > 0
    english = api.get("/api/v1/knowledge?q=leaks").get_json()
    assert [i["symptom"] for i in english["items"]] == ["Water leaking under the unit"]
    browse = api.get("/api/v1/knowledge?category=elevator").get_json()
    assert [i["symptom"] for i in browse["items"]] == ["电梯门关不上"] and browse["items"][0]["score"] is None
    assert api.get("/api/v1/knowledge?product_id=9999&q=x").status_code == 422
    assert api.get("/api/v1/knowledge?limit=0").status_code == 422


def test_paging_of_search_results(api_as, make_entry):
    for n in range(5):
        make_entry(f"第{n}号机器漏水")
    api = api_as("engineer")
    page = api.get(f"/api/v1/knowledge?q={quote('漏水')}&limit=2&offset=2").get_json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["offset"] == 2


def test_drafts_are_for_managers_only(api_as, make_entry):
    draft = make_entry("还在写的条目", status="draft")
    dispatcher = api_as("dispatcher")
    assert dispatcher.get(f"/api/v1/knowledge/{draft.id}").status_code == 404
    assert dispatcher.get("/api/v1/knowledge?status=draft").status_code == 403
    listed = api_as("manager").get("/api/v1/knowledge?status=draft").get_json()
    assert [i["id"] for i in listed["items"]] == [draft.id]


def test_stale_patch_is_409_with_changes_and_changes_nothing(api_as, make_entry, db):
    entry = make_entry("机器底部漏水")
    api = api_as("manager")
    read = entry.version
    ok = api.patch(f"/api/v1/knowledge/{entry.id}", json={"version": read, "symptom": "机器底部渗水"})
    assert ok.status_code == 200 and ok.get_json()["version"] > read
    stale = api.patch(f"/api/v1/knowledge/{entry.id}", json={"version": read, "symptom": "覆盖"})
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "stale_version"
    assert error["changes"] == [{"field": "symptom", "before": "机器底部漏水", "after": "机器底部渗水"}]
    db.session.expire_all()
    assert db.session.get(KnowledgeEntry, entry.id).symptom == "机器底部渗水"
    missing = api.patch(f"/api/v1/knowledge/{entry.id}", json={"symptom": "x"})
    assert missing.status_code == 422 and "version" in missing.get_json()["error"]["fields"]


def test_publish_workflow_and_revisions(api_as, make_entry):
    entry = make_entry("机器底部漏水", status="draft")
    api = api_as("manager")
    published = api.post(f"/api/v1/knowledge/{entry.id}/publish", json={"version": entry.version})
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    version = published.get_json()["version"]
    again = api.post(f"/api/v1/knowledge/{entry.id}/publish", json={"version": version})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "illegal_transition"
    stale = api.post(f"/api/v1/knowledge/{entry.id}/archive", json={"version": version - 1})
    assert stale.status_code == 409
    archived = api.post(f"/api/v1/knowledge/{entry.id}/archive", json={"version": version})
    assert archived.get_json()["status"] == "archived"
    assert (
        api_as("engineer").post(f"/api/v1/knowledge/{entry.id}/publish", json={"version": 9}).status_code
        == 403
    )
    revisions = api.get(f"/api/v1/knowledge/{entry.id}/revisions").get_json()
    assert [r["note"] for r in revisions][:2] == ["archive", "publish"]
    assert revisions[-1]["content"]["symptom"] == "机器底部漏水"


def test_an_entry_without_solutions_is_422_on_publish(api_as, make_entry):
    entry = make_entry("原因未明", status="draft", causes=[cause("还没查到")])
    response = api_as("manager").post(
        f"/api/v1/knowledge/{entry.id}/publish", json={"version": entry.version}
    )
    assert response.status_code == 422 and "causes" in response.get_json()["error"]["fields"]


def test_proposal_review_and_publish(api_as, make_engineer, db):
    engineer = make_engineer(skills=["water_purifier"])
    mine = api_as(user=engineer.user)
    proposal = {
        "category": "water_purifier",
        "symptom": "龙头滴水关不紧",
        "cause": "陶瓷阀芯磨损",
        "solution": "更换龙头阀芯\n通水测试",
    }
    created = mine.post("/api/v1/knowledge/proposals", json=proposal)
    assert created.status_code == 201 and created.get_json()["status"] == "pending"
    pid, version = created.get_json()["id"], created.get_json()["version"]
    assert mine.get("/api/v1/knowledge/proposals").get_json()["total"] == 1
    assert api_as("engineer").get(f"/api/v1/knowledge/proposals/{pid}").status_code == 404  # not theirs
    assert api_as("dispatcher").post("/api/v1/knowledge/proposals", json=proposal).status_code == 403
    assert (
        mine.post(f"/api/v1/knowledge/proposals/{pid}/publish", json={"version": version}).status_code == 403
    )

    manager = api_as("manager")
    edited = manager.patch(
        f"/api/v1/knowledge/proposals/{pid}", json={"version": version, "fault_code": "w1"}
    )
    assert edited.status_code == 200
    assert (
        manager.post(f"/api/v1/knowledge/proposals/{pid}/publish", json={"version": version}).status_code
        == 409
    )
    done = manager.post(
        f"/api/v1/knowledge/proposals/{pid}/publish", json={"version": edited.get_json()["version"]}
    )
    assert done.status_code == 200 and done.get_json()["status"] == "published"
    entry = mine.get(f"/api/v1/knowledge/{done.get_json()['entry_id']}").get_json()
    assert entry["status"] == "published" and entry["fault_code"] == "W1"
    assert entry["causes"][0]["solutions"][0]["steps"] == ["更换龙头阀芯", "通水测试"]
    found = mine.get(f"/api/v1/knowledge?q={quote('龙头滴水')}").get_json()
    assert [i["id"] for i in found["items"]] == [entry["id"]]


def test_bad_proposal_and_reject_without_reason_are_422(api_as, db):
    engineer = api_as("engineer")
    bad = engineer.post("/api/v1/knowledge/proposals", json={"symptom": "", "category": "water_purifier"})
    assert bad.status_code == 422 and {"symptom", "cause", "solution"} <= set(
        bad.get_json()["error"]["fields"]
    )
    assert _count(db, KnowledgeProposal) == 0
    created = engineer.post(
        "/api/v1/knowledge/proposals",
        json={"category": "printer", "symptom": "扫描到邮箱失败", "cause": "端口", "solution": "改端口"},
    ).get_json()
    manager = api_as("manager")
    no_reason = manager.post(
        f"/api/v1/knowledge/proposals/{created['id']}/reject", json={"version": created["version"]}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["fields"]
    rejected = manager.post(
        f"/api/v1/knowledge/proposals/{created['id']}/reject",
        json={"version": created["version"], "reason": "重复"},
    )
    assert rejected.get_json()["status"] == "rejected"
    assert engineer.get("/api/v1/knowledge/proposals?status=rejected").get_json()["total"] == 1


def test_offline_package_for_the_engineers_skills_with_a_cursor(
    api_as, make_engineer, make_entry, db, manager
):
    purifier = make_entry("机器底部漏水")
    make_entry("电梯门关不上", category="elevator")
    draft = make_entry("草稿", status="draft")
    engineer = make_engineer(skills=["water_purifier"])
    phone = api_as(user=engineer.user)
    first = phone.get("/api/v1/knowledge/offline")
    assert first.status_code == 200
    body = first.get_json()
    assert [e["id"] for e in body["entries"]] == [purifier.id] and body["removed"] == []
    assert body["entries"][0]["causes"][0]["solutions"][0]["summary"] == "更换密封圈"

    # The cursor, sent back, brings only later changes (and ids to drop).
    since = quote(body["cursor"])
    from fieldservice.knowledge import operations as ops

    entry = db.session.get(KnowledgeEntry, purifier.id)
    ops.change_status(entry, "archive", manager, entry.version)
    entry.updated_at = entry.updated_at + timedelta(minutes=5)
    added = make_entry("出水量明显变小")
    added.updated_at = added.updated_at + timedelta(minutes=5)
    db.session.commit()
    later = phone.get(f"/api/v1/knowledge/offline?since={since}").get_json()
    assert [e["id"] for e in later["entries"]] == [added.id]
    # Dropped: the archived entry, and (harmlessly) any published entry of another category changed lately;
    # never the draft, which no phone ever held.
    assert purifier.id in later["removed"] and draft.id not in later["removed"]
    other = phone.get("/api/v1/knowledge/offline?categories=elevator").get_json()
    assert [e["symptom"] for e in other["entries"]] == ["电梯门关不上"]
    assert phone.get("/api/v1/knowledge/offline?since=yesterday").status_code == 422
    assert (
        "Authorization" in phone.headers
        and api_as("dispatcher").get("/api/v1/knowledge/offline").status_code == 200
    )
