"""The holiday calendar's admin page: list a year, add a day (validated), delete one; admins only."""

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from fieldservice.core.clock import add_working_days
from fieldservice.core.holidays import CALENDAR_DAYS
from fieldservice.core.models import CalendarDay
from fieldservice.requests import operations as requests_ops

SHANGHAI = timezone(timedelta(hours=8))


def count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay))


def test_the_page_lists_the_years_days(console_as, holiday_calendar):
    admin = console_as("admin")
    page = admin.get("/admin/calendar?year=2026", headers={"Accept-Language": "zh"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-day="2026-02-14"' in html and "调休上班日" in html and "春节" in html
    assert 'data-day="2027-02-06"' not in html
    assert "节假日日历" in admin.get("/home").get_data(as_text=True)  # the navigation entry


@pytest.mark.parametrize("role", ["manager", "dispatcher", "engineer", "callback"])
def test_only_admins_reach_the_page(console_as, db, role):
    user = console_as(role)
    assert user.get("/admin/calendar").status_code == 403
    added = user.post("/admin/calendar", data={"day": "2026-11-23", "kind": "holiday", "name_zh": "x"})
    assert added.status_code == 403
    assert count(db) == 0
    assert "/admin/calendar" not in user.get("/home").get_data(as_text=True)


def test_an_admin_adding_a_holiday_changes_the_next_due_time_at_once(console_as, db):
    admin = console_as("admin")
    friday = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    # Friday + 5 working days: the next Friday, 11-27.
    assert requests_ops.due_times(4, friday)[0] == datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
    db.session.commit()  # this "request" is over; the next one is another transaction
    response = admin.post(
        "/admin/calendar", data={"day": "2026-11-24", "kind": "holiday", "name_zh": "公司假日", "name_en": "Day off"}
    )
    assert response.status_code == 302 and response.location.endswith("/admin/calendar?year=2026")
    # Tuesday 11-24 is off now: Mon 11-23 (1), Wed (2), Thu (3), Fri (4), Mon 11-30 (5).
    assert requests_ops.due_times(4, friday)[0] == datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
    db.session.commit()
    deleted = admin.post("/admin/calendar/2026-11-24/delete")
    assert deleted.status_code == 302
    assert add_working_days(friday, 5) == datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"day": "", "kind": "holiday", "name_zh": "x"}, "请填写日期"),
        ({"day": "2026-13-40", "kind": "holiday", "name_zh": "x"}, 'data-field="day"'),
        ({"day": "2026-11-23", "kind": "workday", "name_zh": "x"}, "调休上班日只能是周六或周日"),
        ({"day": "2026-11-23", "kind": "holiday", "name_zh": "", "name_en": ""}, "请填写名称"),
        ({"day": "2026-11-23", "kind": "party", "name_zh": "x"}, 'data-field="kind"'),
        # A date already listed: delete it first.
        ({"day": "2026-10-01", "kind": "holiday", "name_zh": "国庆节"}, "该日期已在日历中"),
    ],
)
def test_bad_input_re_renders_the_form_and_changes_nothing(console_as, db, holiday_calendar, data, message):
    admin = console_as("admin")
    response = admin.post("/admin/calendar", data=data, headers={"Accept-Language": "zh"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'name="name_zh"' in html  # the form again, with what was typed
    db.session.rollback()
    assert count(db) == len(CALENDAR_DAYS)


def test_deleting_a_day(console_as, db, holiday_calendar):
    admin = console_as("admin")
    response = admin.post("/admin/calendar/2026-02-14/delete")
    assert response.status_code == 302
    assert db.session.get(CalendarDay, date(2026, 2, 14)) is None
    assert count(db) == len(CALENDAR_DAYS) - 1
    assert admin.post("/admin/calendar/2026-02-14/delete").status_code == 404
    assert admin.post("/admin/calendar/not-a-date/delete").status_code == 404
