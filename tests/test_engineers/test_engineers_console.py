"""Console pages of engineers: the pages per role, the list, the profile, the forms, leave."""

import re

import pytest
import sqlalchemy as sa

from fieldservice.engineers.models import Engineer, EngineerLeave


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/dispatch", "/dispatch/board", "/engineers", "/engineers/performance"])
@pytest.mark.parametrize("role", ["admin", "manager", "dispatcher", "engineer", "callback"])
def test_pages_per_role(console_as, path, role):
    allowed = {
        "/dispatch": {"admin", "manager", "dispatcher"},
        "/dispatch/board": {"admin", "manager", "dispatcher"},
        "/engineers": {"admin", "manager", "dispatcher"},
        "/engineers/performance": {"admin", "manager"},
    }[path]
    response = console_as(role).get(path)
    assert response.status_code == (200 if role in allowed else 403)


def test_engineer_list_and_profile(console_as, engineer_factory, request_factory, assign):
    engineer = engineer_factory(name="王志强", skills=["elevator", "printer"], zone="徐汇区", max_open_jobs=3)
    assign(request_factory(category="elevator"), engineer)
    manager = console_as("manager")
    html = text(manager.get("/engineers?lang=en"))
    assert "王志强" in html and "1 / 3" in html and "Elevator" in html
    assert "王志强" not in text(manager.get("/engineers?skill=medical"))
    profile = text(manager.get(f"/engineers/{engineer.id}?lang=en"))
    assert 'data-testid="engineer-load">1 / 3' in profile and "徐汇区" in profile
    # The default language is Chinese.
    assert "技能" in text(manager.get(f"/engineers/{engineer.id}"))


def test_create_engineer_in_the_console(console_as, db):
    manager = console_as("manager")
    form = {
        "username": "eng-new",
        "password": "long-enough-1",
        "name": "赵磊",
        "phone": "13900000000",
        "skills": ["medical", "printer"],
        "zone": "闵行区",
        "lat": "31.11",
        "lng": "121.38",
        "max_open_jobs": "4",
        "work_start": "09:00",
        "work_end": "18:00",
        "work_days": ["1", "2", "3", "4", "5", "6"],
    }
    response = manager.post("/engineers/new", data=form)
    assert response.status_code == 302, text(response)
    engineer = db.session.scalar(sa.select(Engineer).where(Engineer.name == "赵磊"))
    assert engineer.skill_categories == ["medical", "printer"] and engineer.max_open_jobs == 4
    assert engineer.weekdays == {1, 2, 3, 4, 5, 6} and engineer.work_start.hour == 9
    assert engineer.user.username == "eng-new" and engineer.user.role == "engineer"

    bad = manager.post("/engineers/new?lang=en", data={**form, "username": "eng-2", "password": "x", "lat": "200"})
    assert bad.status_code == 422
    assert 'data-field="password"' in text(bad) and 'data-field="lat"' in text(bad)


def test_edit_engineer_with_a_stale_form_is_409(console_as, db, engineer_factory):
    engineer = engineer_factory(name="周俊", zone="闵行区")
    manager = console_as("manager")
    form = {
        "name": "周俊",
        "zone": "徐汇区",
        "skills": ["water_purifier"],
        "max_open_jobs": "5",
        "work_start": "08:00",
        "work_end": "17:00",
        "work_days": ["1", "2", "3", "4", "5"],
        "active": "y",
        "version": str(engineer.version),
    }
    assert manager.post(f"/engineers/{engineer.id}/edit", data=form).status_code == 302
    stale = manager.post(f"/engineers/{engineer.id}/edit", data={**form, "zone": "杨浦区"})
    assert stale.status_code == 409
    db.session.expire_all()
    assert db.session.get(Engineer, engineer.id).zone == "徐汇区"


def test_leave_in_the_console(console_as, db, engineer_factory):
    engineer = engineer_factory()
    manager = console_as("manager")
    ok = manager.post(
        f"/engineers/{engineer.id}/leaves",
        data={"starts_at": "2026-12-01T09:00", "ends_at": "2026-12-03T18:00", "reason": "年假"},
    )
    assert ok.status_code == 302
    (leave,) = db.session.scalars(sa.select(EngineerLeave).where(EngineerLeave.engineer_id == engineer.id)).all()
    # Entered as Shanghai time: 09:00 there is 01:00 UTC.
    assert leave.starts_at.hour == 1 and leave.reason == "年假"
    bad = manager.post(
        f"/engineers/{engineer.id}/leaves",
        data={"starts_at": "2026-12-05T09:00", "ends_at": "2026-12-04T09:00"},
    )
    assert bad.status_code == 422
    assert manager.post(f"/engineers/{engineer.id}/leaves/{leave.id}/delete").status_code == 302
    assert db.session.scalars(sa.select(EngineerLeave)).all() == []
    assert console_as("dispatcher").post(f"/engineers/{engineer.id}/leaves", data={}).status_code == 403


def test_the_edit_form_shows_the_engineers_skills_checked_by_their_labels(console_as, db, engineer_factory):
    engineer = engineer_factory(name="钱峰", skills=("water_purifier", "elevator"))
    page = text(console_as("manager").get(f"/engineers/{engineer.id}/edit?lang=zh_Hans"))
    assert "EngineerSkill" not in page  # the rows themselves were once offered as extra choices
    checked = re.findall(r'<input[^>]*checked[^>]*name="skills"[^>]*value="([^"]+)"|'
                         r'<input[^>]*name="skills"[^>]*value="([^"]+)"[^>]*checked', page)
    assert sorted(a or b for a, b in checked) == ["elevator", "water_purifier"]
