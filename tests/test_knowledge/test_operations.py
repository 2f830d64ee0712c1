"""The knowledge base's rules: revisions, publish workflow, counts from visits, proposals, offline copy."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.errors import Conflict, Forbidden, ValidationFailed
from fieldservice.core.models import utcnow
from fieldservice.knowledge import operations as ops
from fieldservice.knowledge.models import KnowledgeEntry, KnowledgeProposal, KnowledgeTerm

from .conftest import cause


def test_create_keeps_revision_one_and_an_index(db, make_entry):
    entry = make_entry(
        "机器底部漏水", fault_code=" e-05 ", causes=[cause("密封圈老化", ("更换密封圈", ["关水", "换圈"]))]
    )
    assert entry.fault_code == "E-05" and entry.status == "published" and entry.published_at is not None
    [rev] = ops.entry_revisions(entry)
    assert rev.version == entry.version and rev.content["symptom"] == "机器底部漏水"
    assert rev.content["causes"][0]["solutions"][0]["steps"] == ["关水", "换圈"]
    terms = set(db.session.scalars(sa.select(KnowledgeTerm.term).where(KnowledgeTerm.entry_id == entry.id)))
    assert {"漏水", "e05", "密封"} <= terms


def test_product_fixes_the_category_and_a_mismatch_is_refused(db, make_product, manager):
    product = make_product(category="elevator")
    entry = ops.create_entry(
        {"product_id": product.id, "symptom": "门关不上", "causes": [cause("光幕脏", "清洁光幕")]}, manager
    )
    assert entry.category == "elevator"
    with pytest.raises(ValidationFailed) as exc:
        ops.create_entry(
            {"product_id": product.id, "category": "printer", "symptom": "x", "causes": [cause("a", "b")]},
            manager,
        )
    assert "category" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        ops.create_entry({"symptom": "x", "causes": [cause("a", "b")]}, manager)
    assert "category" in exc.value.fields


def test_edits_keep_every_version_and_solution_counts_survive(db, make_entry, manager):
    entry = make_entry("机器底部漏水")
    solution = entry.causes[0].solutions[0]
    ops.record_use(entry.id, True, solution.summary)
    db.session.commit()
    content = ops.entry_content(entry)
    content["causes"][0]["solutions"][0]["steps"] = ["关闭进水阀", "更换密封圈"]
    content["causes"].append(cause("快接头未插到位", "重新插管"))
    ops.update_entry(entry, {"version": entry.version, "causes": content["causes"]}, manager, note="补充步骤")
    db.session.commit()
    history = ops.entry_revisions(entry)
    assert [r.version for r in history] == [entry.version, entry.version - 1]
    assert history[0].note == "补充步骤"
    changes = ops.content_changes(history[1].content, history[0].content)
    assert [c["field"] for c in changes] == ["causes"] and "快接头未插到位" in changes[0]["after"]
    # The solution row was updated in place: its count stays.
    assert entry.causes[0].solutions[0].id == solution.id and entry.causes[0].solutions[0].successes == 1


def test_a_stale_edit_is_409_with_what_changed(db, make_entry, manager):
    entry = make_entry("机器底部漏水")
    read = entry.version
    ops.update_entry(entry, {"version": read, "symptom": "机器底部严重漏水"}, manager)
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        ops.update_entry(entry, {"version": read, "fault_code": "E9"}, manager)
    db.session.rollback()
    assert exc.value.extra["current_version"] == entry.version
    assert exc.value.extra["changes"] == [
        {"field": "symptom", "before": "机器底部漏水", "after": "机器底部严重漏水"}
    ]
    assert db.session.get(KnowledgeEntry, entry.id).fault_code is None


def test_publish_workflow_follows_the_table(db, make_entry, manager):
    entry = make_entry("机器底部漏水", status="draft")
    assert ops.allowed_actions(entry) == ["publish", "archive"]
    with pytest.raises(Conflict):
        ops.change_status(entry, "unpublish", manager, entry.version)
    ops.change_status(entry, "publish", manager, entry.version)
    assert entry.status == "published" and entry.published_at is not None
    ops.change_status(entry, "archive", manager, entry.version)
    ops.change_status(entry, "publish", manager, entry.version)
    ops.change_status(entry, "unpublish", manager, entry.version)
    db.session.commit()
    assert entry.status == "draft"
    assert [r.note for r in ops.entry_revisions(entry)][:4] == ["unpublish", "publish", "archive", "publish"]
    with pytest.raises(Conflict):
        ops.change_status(entry, "publish", manager, entry.version - 1)


def test_an_entry_without_a_solution_cannot_be_published(db, make_entry, manager):
    entry = make_entry("机器底部漏水", status="draft", causes=[cause("原因未明")])
    with pytest.raises(ValidationFailed) as exc:
        ops.change_status(entry, "publish", manager, entry.version)
    assert exc.value.code == "not_publishable"
    db.session.rollback()
    assert db.session.get(KnowledgeEntry, entry.id).status == "draft"


def test_record_use_counts_without_touching_the_version(db, make_entry):
    entry = make_entry("机器底部漏水", causes=[cause("密封圈老化", "更换密封圈", "更换快接头")])
    version, updated = entry.version, entry.updated_at
    ops.record_use(entry.id, True, "  更换快接头 ")
    ops.record_use(entry.id, False, "自己想的办法")
    db.session.commit()
    db.session.expire_all()
    entry = db.session.get(KnowledgeEntry, entry.id)
    assert (entry.uses, entry.successes, entry.version, entry.updated_at) == (2, 1, version, updated)
    first, second = entry.causes[0].solutions
    assert (first.uses, second.uses, second.successes) == (0, 1, 1)
    with pytest.raises(ValidationFailed):
        ops.record_use(99999, True)


def resolve_with_visit(db, make_equipment, make_engineer, make_user, fault_id=None):
    """A request resolved by an engineer's visit (citing *fault_id*): (request, engineer)."""
    from fieldservice.requests import operations as rops
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    dispatcher = make_user("dispatcher")
    equipment = make_equipment()
    engineer = make_engineer(skills=[equipment.product.category])
    sr = rops.create_request(
        {
            "customer_id": equipment.customer_id,
            "equipment_id": equipment.id,
            "problem_type": "leak",
            "description": "机器底部漏水",
            "priority": 2,
            "required_by": utcnow() + timedelta(days=1),
        },
        dispatcher,
    )
    db.session.commit()
    rops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
    db.session.commit()
    now = utcnow()
    rops.record_visit(
        sr,
        {
            "outcome": "resolved",
            "arrived_at": now - timedelta(minutes=5),
            "finished_at": now,
            "labour_hours": 0.5,
            "fault_id": fault_id,
            "cause": "密封圈老化",
            "solution": "更换进水阀密封圈",
        },
        engineer.user,
    )
    db.session.commit()
    return sr, engineer


def test_a_recorded_visit_citing_an_entry_counts_a_use(
    db, make_entry, make_equipment, make_engineer, make_user
):
    entry = make_entry("机器底部漏水", causes=[cause("密封圈老化", "更换进水阀密封圈")])
    resolve_with_visit(db, make_equipment, make_engineer, make_user, fault_id=entry.id)
    db.session.expire_all()
    entry = db.session.get(KnowledgeEntry, entry.id)
    assert (entry.uses, entry.successes) == (1, 1)
    assert entry.causes[0].solutions[0].successes == 1


# --- proposals
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def visited(db, make_equipment, make_engineer, make_user):
    """A request an engineer resolved (citing no entry), for proposals."""
    return resolve_with_visit(db, make_equipment, make_engineer, make_user)


def _proposal_data(**kw):
    return {
        "category": "water_purifier",
        "symptom": "龙头滴水关不紧",
        "cause": "陶瓷阀芯磨损",
        "solution": "更换龙头阀芯\n通水测试不滴漏",
        **kw,
    }


def test_proposal_review_publish_makes_a_published_entry(db, visited, manager):
    sr, engineer = visited
    proposal = ops.create_proposal(_proposal_data(request_id=sr.id), engineer.user)
    db.session.commit()
    assert proposal.status == "pending"
    ops.update_proposal(proposal, {"version": proposal.version, "fault_code": "w-1"}, manager)
    ops.publish_proposal(proposal, manager, proposal.version)
    db.session.commit()
    entry = proposal.entry
    assert proposal.status == "published" and entry.status == "published" and entry.fault_code == "W-1"
    solution = entry.causes[0].solutions[0]
    assert (solution.summary, solution.steps) == ("更换龙头阀芯", ["更换龙头阀芯", "通水测试不滴漏"])
    assert ops.search("龙头滴水")[0].id == entry.id
    assert ops.entry_revisions(entry)[0].note == f"proposal #{proposal.id}"
    with pytest.raises(Conflict):
        ops.publish_proposal(proposal, manager, proposal.version)


def test_proposal_can_add_a_cause_to_an_existing_entry(db, make_entry, manager, make_user):
    entry = make_entry("龙头滴水")
    author = make_user("manager")
    proposal = ops.create_proposal(_proposal_data(), author)
    ops.publish_proposal(proposal, manager, proposal.version, entry_id=entry.id)
    db.session.commit()
    assert [c.description for c in entry.causes] == ["密封圈老化", "陶瓷阀芯磨损"]
    assert proposal.entry_id == entry.id


def test_rejecting_needs_a_reason(db, manager, make_user):
    proposal = ops.create_proposal(_proposal_data(), make_user("manager"))
    with pytest.raises(ValidationFailed):
        ops.reject_proposal(proposal, manager, proposal.version, "  ")
    ops.reject_proposal(proposal, manager, proposal.version, "与已有条目重复")
    db.session.commit()
    assert proposal.status == "rejected" and proposal.reject_reason == "与已有条目重复"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeEntry)) == 0


def test_an_engineer_proposes_only_from_requests_they_visited(db, visited, make_engineer):
    sr, _engineer = visited
    other = make_engineer(skills=["water_purifier"])
    with pytest.raises(Forbidden):
        ops.create_proposal(_proposal_data(request_id=sr.id), other.user)
    with pytest.raises(ValidationFailed):
        ops.create_proposal(_proposal_data(request_id=99999), other.user)
    assert ops.visible_proposals(other.user) is not None
    ops.create_proposal(_proposal_data(), other.user)
    db.session.commit()
    assert len(db.session.scalars(ops.visible_proposals(other.user)).all()) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeProposal)) == 1


# --- the offline copy
# ----------------------------------------------------------------------------------------------


def test_offline_changes_since_a_cursor(db, make_entry, manager):
    purifier = make_entry("机器底部漏水")
    make_entry("电梯门关不上", category="elevator")
    draft = make_entry("还没写完", status="draft")
    everything = ops.offline_changes(["water_purifier"], None)
    assert [e.id for e in everything["entries"]] == [purifier.id] and everything["removed"] == []

    cursor = everything["cursor"] + ops.SYNC_OVERLAP  # as if the overlap had passed
    later = purifier.updated_at + timedelta(seconds=1)
    ops.update_entry(purifier, {"version": purifier.version, "symptom": "机器底部渗水"}, manager)
    purifier.updated_at = later + timedelta(minutes=1)
    ops.change_status(draft, "publish", manager, draft.version)
    draft.updated_at = later + timedelta(minutes=1)
    db.session.commit()
    changed = ops.offline_changes(["water_purifier"], cursor)
    assert {e.id for e in changed["entries"]} == {purifier.id, draft.id}

    ops.change_status(purifier, "archive", manager, purifier.version)
    purifier.updated_at = later + timedelta(minutes=2)
    db.session.commit()
    dropped = ops.offline_changes(["water_purifier"], later + timedelta(minutes=1, seconds=30))
    assert dropped["entries"] == [] and dropped["removed"] == [purifier.id]


def test_offline_categories_default_to_the_engineers_skills(make_engineer, make_user):
    engineer = make_engineer(skills=["elevator", "printer"])
    assert sorted(ops.offline_categories(engineer.user, None)) == ["elevator", "printer"]
    assert ops.offline_categories(engineer.user, ["medical"]) == ["medical"]
    assert ops.offline_categories(make_user("manager"), None) is None


def test_the_service_report_names_the_cited_entry(db, make_entry, make_equipment, make_engineer, make_user):
    from fieldservice.reports.operations import build_content

    entry = make_entry("机器底部漏水")
    sr, _engineer = resolve_with_visit(db, make_equipment, make_engineer, make_user, fault_id=entry.id)
    assert build_content(sr.visits[-1])["visit"]["fault"] == "机器底部漏水"


def test_one_edit_is_one_version_step_and_one_revision(db, make_entry, manager):
    """Loading the causes mid-edit used to flush the row early, so one save moved the version by two."""
    from fieldservice.knowledge.models import EntryRevision

    entry = make_entry("制冰机不制冰")
    ops.update_entry(entry, {"symptom": "制冰机不出冰", "version": 1}, manager)
    db.session.commit()
    assert entry.version == 2
    assert db.session.scalars(
        sa.select(EntryRevision.version)
        .where(EntryRevision.entry_id == entry.id)
        .order_by(EntryRevision.version)
    ).all() == [1, 2]
