"""The schedule board page: one bar per engineer with shifts, leave and appointments; the requests without one."""

from datetime import UTC, timedelta

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
    assert f'<li data-request="{waiting.id}"' in page
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


def test_the_week_view_places_each_day(db, console_as, assigned, make_user, engineer, day):
    booked = assigned()
    _book(db, booked, make_user("dispatcher"), day + timedelta(days=1), "10:00", "12:00")
    page = console_as("dispatcher").get(f"/schedule?date={day.isoformat()}&days=7").get_data(as_text=True)
    assert 'data-days="7"' in page
    # The second of seven days, a quarter into it: (1 + 0.25) / 7 of the bar, two hours of 7 x 16 wide.
    assert 'data-left="17.86" data-width="1.79"' in page
    assert 'data-day-index="1" data-start-minutes="600" data-end-minutes="720"' in page


def test_the_board_filters_by_skill(db, console_as, make_engineer, day):
    make_engineer(skills=["elevator"], name="电梯师傅")
    make_engineer(skills=["water_purifier"], name="净水师傅")
    page = console_as("dispatcher").get(f"/schedule?date={day}&skill=elevator").get_data(as_text=True)
    assert "电梯师傅" in page and "净水师傅" not in page


def _drop(client, sr, engineer, day, start, end, **kw):
    body = {
        "request_id": sr.id,
        "version": sr.version,
        "engineer_id": engineer.id,
        "date": day.isoformat(),
        "start": start,
        "end": end,
        **kw,
    }
    return client.post("/schedule/book", json=body, headers={"X-CSRFToken": "test"})


def test_a_drop_assigns_and_books(db, console_as, make_request, engineer, day):
    from fieldservice.requests.models import ServiceRequest

    sr = make_request(required_by=window(day, "20:00", "21:00")[0])
    response = _drop(console_as("dispatcher"), sr, engineer, day, "10:00", "12:00")
    assert response.status_code == 200, response.json
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).engineer_id == engineer.id
    current = appts.current_appointment(sr.id)
    assert (current.starts_at, current.ends_at) == tuple(t.astimezone(UTC) for t in window(day, "10:00", "12:00"))


def test_a_drop_refused_changes_nothing_and_says_why(db, console_as, assigned, make_user, engineer, day):
    first, second = assigned(), assigned()
    _book(db, first, make_user("dispatcher"), day, "10:00", "12:00")
    client = console_as("dispatcher")
    clash = _drop(client, second, engineer, day, "11:00", "12:00")
    assert clash.status_code == 409 and clash.json["code"] == "double_booked"
    assert first.number in clash.json["message"]
    off_shift = _drop(client, second, engineer, day, "19:00", "20:00")
    assert off_shift.status_code == 422 and off_shift.json["code"] == "outside_shift"
    no_reason = _drop(client, first, engineer, day, "13:00", "14:00")
    assert no_reason.status_code == 422 and "reason" in no_reason.json["fields"]
    assert appts.current_appointment(second.id) is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"request_id": "x"},
        {"request_id": 1, "version": 1, "date": "2026-13-01", "start": "10:00", "end": "11:00"},
        {"request_id": 1, "version": 1, "date": "2026-12-01", "start": "25:00", "end": "11:00"},
    ],
)
def test_bad_input_is_422_not_500(console_as, body):
    response = console_as("dispatcher").post("/schedule/book", json=body, headers={"X-CSRFToken": "test"})
    assert response.status_code == 422 and response.json["code"] == "validation_failed"


def test_a_stale_drop_names_who_changed_the_request(db, console_as, assigned, make_user, engineer, day):
    sr = assigned()
    _book(db, sr, make_user("dispatcher"), day, "10:00", "12:00")
    stale_version = sr.version
    other = make_user("dispatcher", name="王调度")
    appts.book_appointment(
        sr, dict(zip(("start", "end"), window(day, "14:00", "15:00"), strict=True), reason="改约"), other, stale_version
    )
    db.session.commit()
    response = console_as("dispatcher").post(
        "/schedule/book",
        json={
            "request_id": sr.id,
            "version": stale_version,
            "engineer_id": engineer.id,
            "date": day.isoformat(),
            "start": "11:00",
            "end": "13:00",
            "reason": "晚一点",
        },
        headers={"X-CSRFToken": "test"},
    )
    assert response.status_code == 409 and response.json["code"] == "stale_version"
    assert "王调度" in response.json["message"]
    current = appts.current_appointment(sr.id)
    assert current.starts_at == window(day, "14:00", "15:00")[0].astimezone(UTC)


def test_the_map_tiles_are_allowed_on_the_board_only(console_as, app):
    client = console_as("dispatcher")
    board = client.get("/schedule").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in board
    assert "script-src 'self';" in board and "style-src 'self';" in board
    assert "openstreetmap" not in client.get("/home").headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "tiles,allowed",
    [
        ("https://{s}.tile.example.cn/{z}/{x}/{y}.png", "https://*.tile.example.cn"),
        ("http://tiles.test:8080/{z}/{x}/{y}.png", "http://tiles.test:8080"),
        ("/tiles/{z}/{x}/{y}.png", None),
        ("https://evil.example; script-src *", None),
    ],
)
def test_the_tile_origin_in_the_policy(tiles, allowed):
    from fieldservice.core.headers import PAGE_POLICY, page_policy_with_images

    policy = page_policy_with_images(tiles)
    if allowed is None:
        assert policy == PAGE_POLICY
    else:
        assert f"img-src 'self' data: blob: {allowed};" in policy
