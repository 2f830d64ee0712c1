"""The callback desk's console pages: queue, call page forms, follow-ups, unreachable list."""

import pytest
import sqlalchemy as sa

from fieldservice.requests.models import ServiceRequest
from fieldservice.revisits.models import FollowUp


def test_queue_page_lists_resolved_requests(db, make_resolved, console_as):
    sr = make_resolved()
    page = console_as("callback").get("/revisits?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and sr.number in html and "13912345678" in html and "0 / 3" in html


def test_queue_page_in_chinese(db, make_resolved, console_as):
    make_resolved()
    html = (
        console_as("callback").get("/revisits", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    )
    assert "回访" in html


@pytest.mark.parametrize("path", ["/revisits", "/revisits/follow-ups", "/revisits/unreachable"])
def test_engineers_may_not_open_the_desk(console_as, path):
    assert console_as("engineer").get(path).status_code == 403


def test_follow_ups_page_is_for_managers(console_as):
    assert console_as("callback").get("/revisits/follow-ups").status_code == 403
    assert console_as("manager").get("/revisits/follow-ups").status_code == 200


def test_survey_form_closes_the_request(db, make_resolved, console_as):
    sr = make_resolved()
    c = console_as("callback")
    assert c.get(f"/revisits/{sr.id}?lang=en").status_code == 200
    r = c.post(
        f"/revisits/{sr.id}/survey",
        data={
            "satisfied": "yes",
            "timeliness": "5",
            "attitude": "5",
            "quality": "4",
            "comment": "很满意",
            "version": sr.version,
        },
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).status == "revisited"


def test_survey_form_with_missing_scores_shows_the_fields_and_changes_nothing(db, make_resolved, console_as):
    sr = make_resolved()
    r = console_as("callback").post(
        f"/revisits/{sr.id}/survey?lang=en",
        data={
            "satisfied": "yes",
            "timeliness": "5",
            "version": sr.version,
        },
    )
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'data-field="attitude"' in html and 'data-field="quality"' in html
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).status == "resolved"


def test_stale_survey_form_is_409(db, make_resolved, console_as):
    sr = make_resolved()
    r = console_as("callback").post(
        f"/revisits/{sr.id}/survey",
        data={
            "satisfied": "no",
            "timeliness": "2",
            "attitude": "2",
            "quality": "2",
            "version": sr.version - 1,
        },
    )
    assert r.status_code == 409
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).status == "resolved"


def test_low_scores_from_the_form_reach_the_managers_page(db, make_resolved, console_as):
    sr = make_resolved()
    console_as("callback").post(
        f"/revisits/{sr.id}/survey",
        data={
            "satisfied": "no",
            "timeliness": "2",
            "attitude": "4",
            "quality": "4",
            "comment": "等太久",
            "version": sr.version,
        },
    )
    manager = console_as("manager")
    html = manager.get("/revisits/follow-ups?lang=en").get_data(as_text=True)
    assert sr.number in html and "等太久" in html
    follow_up = db.session.scalars(sa.select(FollowUp)).one()
    empty = manager.post(f"/revisits/follow-ups/{follow_up.id}/close", data={"outcome": "", "version": 1})
    assert empty.status_code == 422
    done = manager.post(
        f"/revisits/follow-ups/{follow_up.id}/close",
        data={"outcome": "经理致电致歉", "version": follow_up.version},
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(FollowUp, follow_up.id).status == "done"


def test_attempt_forms_close_as_unreachable_and_show_it(db, make_resolved, console_as):
    sr = make_resolved()
    c = console_as("callback")
    for _ in range(2):
        assert (
            c.post(f"/revisits/{sr.id}/attempts", data={"reason": "no_answer", "note": "无人接"}).status_code
            == 302
        )
    last = c.post(f"/revisits/{sr.id}/attempts", data={"reason": "switched_off"})
    assert last.status_code == 302
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).status == "revisited"
    page = c.get(f"/revisits/{sr.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="unreachable"' in page
    assert sr.number in c.get("/revisits/unreachable").get_data(as_text=True)
    home = console_as("manager").get("/home?lang=en")
    assert home.status_code == 200
