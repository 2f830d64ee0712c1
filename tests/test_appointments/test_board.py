"""The schedule board page: one bar per engineer with shifts, leave and appointments; the requests without one."""

import pytest

from fieldservice.appointments import operations as appts
from tests.test_appointments.conftest import window


def _book(db, sr, actor, day, start, end):
    appts.book_appointment(sr, dict(zip(("start", "end"), window(day, start, end), strict=True)), actor)
    db.session.commit()


def test_the_board_shows_the_day(db, console_as, assigned, make_user, engineer, make_engineer, day):
    booked, waiting = assigned(), assigned()
    _book(db, booked, make_user("dispatcher"), day, "10:00", "12:00")
    page = console_as("dispatcher").get(f"/schedule?date={day.isoformat()}").get_data(as_text=True)
    assert "排班看板" in page
    assert f'data-engineer="{engineer.id}"' in page
    # 10:00 on a bar from 06:00 to 22:00: a quarter in, two hours wide (12.5 %).
    assert 'data-left="25.0" data-width="12.5"' in page  # placed by board.js (no style attributes: CSP)
    assert f'data-request="{booked.id}"' in page and booked.number in page
    assert f'<li data-request="{waiting.id}">' in page
    assert "Schedule board" in console_as("manager").get(f"/schedule?date={day}&lang=en").get_data(as_text=True)


def test_the_board_filters_by_zone(db, console_as, make_engineer, day):
    make_engineer(zone="徐汇", name="徐汇师傅")
    make_engineer(zone="浦东", name="浦东师傅")
    page = console_as("dispatcher").get(f"/schedule?date={day}&zone=徐汇").get_data(as_text=True)
    assert "徐汇师傅" in page and "浦东师傅" not in page


def test_a_bad_date_shows_today(console_as):
    assert console_as("dispatcher").get("/schedule?date=yesterday").status_code == 200


@pytest.mark.parametrize("role,status", [("engineer", 403), ("callback", 403), ("manager", 200)])
def test_who_sees_the_board(console_as, role, status):
    assert console_as(role).get("/schedule").status_code == status
