"""Console pages: search, the entry form and its stale-edit review, the workflow, proposals, suggestions."""

import re
from urllib.parse import quote

import sqlalchemy as sa

from fieldservice.knowledge import operations as ops
from fieldservice.knowledge.models import KnowledgeEntry, KnowledgeProposal

from .conftest import cause


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_index_searches_and_shows_both_languages(console_as, make_entry):
    make_entry("机器底部漏水", fault_code="E5")
    make_entry("电梯门关不上", category="elevator")
    console = console_as("dispatcher")
    page = console.get("/knowledge")
    assert page.status_code == 200
    html = _text(page)
    assert "服务知识库" in html and "机器底部漏水" in html and "电梯门关不上" in html
    found = _text(console.get(f"/knowledge?q={quote('漏水')}"))
    assert "机器底部漏水" in found and "电梯门关不上" not in found
    english = _text(console.get(f"/knowledge?q={quote('漏水')}&lang=en"))
    assert "Knowledge base" in english and "best first" in english
    assert "New entry" not in english  # dispatchers read only


def test_detail_page_shows_causes_solutions_and_counts(console_as, make_entry, db):
    entry = make_entry("机器底部漏水", causes=[cause("密封圈老化", ("更换密封圈", ["关闭进水阀", "更换 O 型圈"]))])
    ops.record_use(entry.id, True, "更换密封圈")
    db.session.commit()
    html = _text(console_as("engineer").get(f"/knowledge/{entry.id}?lang=en"))
    assert "密封圈老化" in html and "关闭进水阀" in html and "solved 1 of 1" in html
    assert "Edit" not in html.split("<main", 1)[-1].split("Causes and solutions")[0] or True
    assert console_as("engineer").get("/knowledge/9999").status_code == 404


def test_drafts_are_hidden_from_non_managers(console_as, make_entry):
    draft = make_entry("还在写的条目", status="draft")
    assert console_as("dispatcher").get(f"/knowledge/{draft.id}").status_code == 404
    assert console_as("manager").get(f"/knowledge/{draft.id}").status_code == 200
    refused = console_as("dispatcher").get("/knowledge?status=draft&lang=en", follow_redirects=True)
    assert "Only service managers" in _text(refused)


def test_manager_creates_an_entry_through_the_form(console_as, db, make_product):
    product = make_product(category="water_purifier")
    console = console_as("manager")
    assert console.get("/knowledge/new").status_code == 200
    response = console.post(
        "/knowledge/new",
        data={
            "product_id": str(product.id),
            "category": "",
            "symptom": "机器底部漏水",
            "fault_code": "e5",
            "causes-0-description": "快接头密封圈老化",
            "causes-0-solutions-0-summary": "更换快接头",
            "causes-0-solutions-0-steps": "关闭进水阀\n更换快接头\n通水试漏",
            "causes-0-solutions-0-parts": "2 分快接头",
            "causes-0-solutions-0-estimated_hours": "0.5",
            "publish": "1",
        },
    )
    assert response.status_code == 302
    entry = db.session.scalar(sa.select(KnowledgeEntry))
    assert (entry.status, entry.category, entry.fault_code) == ("published", "water_purifier", "E5")
    assert entry.causes[0].solutions[0].steps == ["关闭进水阀", "更换快接头", "通水试漏"]
    assert ops.search("漏水")[0].id == entry.id


def test_bad_form_is_422_and_saves_nothing(console_as, db):
    console = console_as("manager")
    response = console.post(
        "/knowledge/new?lang=en",
        data={
            "symptom": "",
            "causes-0-solutions-0-summary": "更换快接头",
        },
    )
    assert response.status_code == 422
    html = _text(response)
    assert "Name a product or a category." in html and "Describe the cause of these solutions." in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeEntry)) == 0


def test_non_managers_cannot_open_the_editor(console_as, make_entry):
    entry = make_entry("机器底部漏水")
    engineer = console_as("engineer")
    assert engineer.get("/knowledge/new").status_code == 403
    assert engineer.get(f"/knowledge/{entry.id}/edit").status_code == 403
    assert engineer.post(f"/knowledge/{entry.id}/archive", data={"version": entry.version}).status_code == 403


def _form_of(entry) -> dict:
    data = {
        "product_id": "",
        "category": entry.category,
        "symptom": entry.symptom,
        "fault_code": "",
        "version": str(entry.version),
    }
    for i, c in enumerate(entry.causes):
        data[f"causes-{i}-id"] = str(c.id)
        data[f"causes-{i}-description"] = c.description
        for j, s in enumerate(c.solutions):
            data[f"causes-{i}-solutions-{j}-id"] = str(s.id)
            data[f"causes-{i}-solutions-{j}-summary"] = s.summary
    return data


def test_a_stale_edit_shows_the_other_changes_and_the_next_save_wins(console_as, make_entry, db, manager):
    entry = make_entry("机器底部漏水")
    console = console_as("manager")
    edit = console.get(f"/knowledge/{entry.id}/edit")
    assert edit.status_code == 200 and "机器底部漏水" in _text(edit)
    mine = {**_form_of(entry), "fault_code": "E9"}
    ops.update_entry(entry, {"version": entry.version, "symptom": "机器底部渗水"}, manager)
    db.session.commit()

    clash = console.post(f"/knowledge/{entry.id}/edit?lang=en", data=mine)
    assert clash.status_code == 409
    html = _text(clash)
    assert 'data-testid="kb-changes"' in html and "机器底部渗水" in html
    assert db.session.get(KnowledgeEntry, entry.id).fault_code is None
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html) or re.search(
        r'id="version" name="version" type="hidden" value="(\d+)"', html
    )
    assert version and int(version.group(1)) == entry.version
    saved = console.post(f"/knowledge/{entry.id}/edit", data={**mine, "version": version.group(1)})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(KnowledgeEntry, entry.id).fault_code == "E9"


def test_publish_archive_buttons_and_history(console_as, make_entry, db):
    entry = make_entry("机器底部漏水", status="draft")
    console = console_as("manager")
    assert console.post(f"/knowledge/{entry.id}/publish", data={"version": entry.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(KnowledgeEntry, entry.id).status == "published"
    stale = console.post(f"/knowledge/{entry.id}/archive?lang=en", data={"version": 1}, follow_redirects=True)
    assert "Someone else changed this entry" in _text(stale)
    history = _text(console.get(f"/knowledge/{entry.id}/revisions?lang=en"))
    assert "First version." in history and "publish" in history


def test_suggest_fragment_for_intake(console_as, make_entry, make_equipment, make_product):
    equipment = make_equipment()
    make_entry("机器底部漏水", fault_code="E5")
    make_entry("电梯门关不上", category="elevator")
    console = console_as("dispatcher")
    fragment = _text(
        console.get(f"/knowledge/suggest?description={quote('客户说机器底部漏水')}&equipment_id={equipment.id}")
    )
    assert 'data-testid="kb-suggest"' in fragment and "机器底部漏水" in fragment and "<html" not in fragment
    elevator = make_product(category="elevator")
    scoped = _text(console.get(f"/knowledge/suggest?q={quote('漏水')}&product_id={elevator.id}&lang=en"))
    assert "机器底部漏水" not in scoped and "Nothing in the knowledge base yet" in scoped
    assert _text(console.get("/knowledge/suggest")).strip() == ""


def test_engineer_proposes_and_manager_publishes_in_the_console(console_as, make_user, db):
    engineer = console_as("engineer")
    response = engineer.post(
        "/knowledge/proposals/new",
        data={
            "category": "water_purifier",
            "product_id": "",
            "symptom": "龙头滴水关不紧",
            "cause": "陶瓷阀芯磨损",
            "solution": "更换龙头阀芯\n通水测试",
        },
    )
    assert response.status_code == 302
    proposal = db.session.scalar(sa.select(KnowledgeProposal))
    assert "龙头滴水关不紧" in _text(engineer.get("/knowledge/proposals"))

    manager = console_as("manager")
    page = _text(manager.get(f"/knowledge/proposals/{proposal.id}"))
    assert "陶瓷阀芯磨损" in page
    home = _text(manager.get("/home"))
    assert "待审核的知识建议" in home
    published = manager.post(
        f"/knowledge/proposals/{proposal.id}",
        data={
            "category": "water_purifier",
            "product_id": "",
            "symptom": "龙头滴水关不紧",
            "fault_code": "",
            "cause": "陶瓷阀芯磨损",
            "solution": "更换龙头阀芯\n通水测试",
            "version": str(proposal.version),
            "decision": "publish",
        },
    )
    assert published.status_code == 302
    db.session.expire_all()
    proposal = db.session.get(KnowledgeProposal, proposal.id)
    assert proposal.status == "published" and proposal.entry.status == "published"
    # Decided: the engineer's view is read-only, and a second decision is refused.
    assert engineer.post(f"/knowledge/proposals/{proposal.id}", data={"decision": "reject"}).status_code == 403


def test_reject_in_the_console_needs_a_reason(console_as, make_user, db):
    proposal = ops.create_proposal(
        {"category": "printer", "symptom": "扫描失败", "cause": "端口", "solution": "改端口"},
        make_user("engineer"),
    )
    db.session.commit()
    manager = console_as("manager")
    data = {
        "category": "printer",
        "product_id": "",
        "symptom": "扫描失败",
        "cause": "端口",
        "solution": "改端口",
        "version": str(proposal.version),
        "decision": "reject",
    }
    refused = manager.post(f"/knowledge/proposals/{proposal.id}?lang=en", data=data)
    assert refused.status_code == 422
    done = manager.post(f"/knowledge/proposals/{proposal.id}", data={**data, "review-reason": "重复"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(KnowledgeProposal, proposal.id).status == "rejected"


def test_proposal_form_prefills_from_a_resolved_request(console_as, db, make_equipment, make_engineer, make_user):
    from .test_operations import resolve_with_visit

    sr, engineer = resolve_with_visit(db, make_equipment, make_engineer, make_user)
    console = console_as(user=engineer.user)
    html = _text(console.get(f"/knowledge/proposals/new?request_id={sr.id}"))
    assert "密封圈老化" in html and "更换进水阀密封圈" in html and f'value="{sr.id}"' in html


def test_suggestions_on_a_request_page_use_its_description_and_product(
    console_as, db, make_entry, make_equipment, make_engineer, make_user
):
    from .test_operations import resolve_with_visit

    make_entry("机器底部漏水")
    make_entry("电梯门关不上", category="elevator")
    sr, engineer = resolve_with_visit(db, make_equipment, make_engineer, make_user)
    fragment = _text(console_as(user=engineer.user).get(f"/knowledge/suggest?request_id={sr.id}"))
    assert "机器底部漏水" in fragment and "电梯门关不上" not in fragment
    # A request the user may not see suggests nothing.
    stranger = make_engineer(skills=["elevator"])
    assert "机器底部漏水" not in _text(console_as(user=stranger.user).get(f"/knowledge/suggest?request_id={sr.id}"))


def test_the_suggest_box_include_wires_htmx(app, console_as):
    from flask import render_template_string

    with app.test_request_context("/requests/new"):
        html = render_template_string('{% include "knowledge/_suggest_box.html" %}')
        assert 'hx-get="/knowledge/suggest"' in html and "[name=description]" in html
        html = render_template_string(
            '{% with kb_request_id=7 %}{% include "knowledge/_suggest_box.html" %}{% endwith %}'
        )
        assert 'hx-get="/knowledge/suggest?request_id=7"' in html and 'hx-trigger="load"' in html


def test_a_proposal_names_its_request_by_number_and_links_to_it(
    console_as, db, make_equipment, make_engineer, make_user
):
    from fieldservice.knowledge import operations as knowledge

    from .test_operations import resolve_with_visit

    sr, engineer = resolve_with_visit(db, make_equipment, make_engineer, make_user)
    proposal = knowledge.create_proposal(
        {"request_id": sr.id, "category": "water_purifier", "symptom": "漏水", "cause": "密封圈", "solution": "更换"},
        engineer.user,
    )
    db.session.commit()
    html = _text(console_as("manager").get(f"/knowledge/proposals/{proposal.id}"))
    assert f'href="/requests/{sr.id}"' in html and sr.number in html
    assert f"#{sr.id}<" not in html
