"""The schedule board in a real Chromium: drag a request from the side list onto an engineer's row (assign and
book in one step), drag a booked window to move it (the reason asked for), and a stale board says who changed the
request instead of overwriting it."""

from datetime import datetime

import pytest

from fieldservice.appointments import operations as appts
from fieldservice.auth.models import User
from fieldservice.core.clock import site_zone
from fieldservice.extensions import db as _db
from fieldservice.requests.models import ServiceRequest
from tests.test_appointments.conftest import window


def _login(page, url, username):
    page.goto(f"{url}/login?lang=en")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.press("input[name=password]", "Enter")
    page.wait_for_url("**/home*")


def _local(moment: datetime) -> str:
    return moment.astimezone(site_zone()).strftime("%H:%M")


def _current(request_id):
    _db.session.remove()
    return appts.current_appointment(request_id)


@pytest.mark.browser
def test_drag_a_request_onto_an_engineers_row(live_server, browser, db, make_user, make_request, engineer, day):
    make_user("dispatcher", username="board-drag")
    waiting = make_request(required_by=window(day, "20:00", "21:00")[0])
    waiting_id, engineer_id = waiting.id, engineer.id
    db.session.remove()

    page = browser.new_page(locale="en-US")
    try:
        _login(page, live_server.url, "board-drag")
        page.goto(f"{live_server.url}/schedule?date={day.isoformat()}&lang=en")
        item = page.locator(f".unscheduled li[data-request='{waiting_id}']")
        row = page.locator(f"[data-testid=row-{engineer_id}]")
        box = row.bounding_box()
        # 10:00 on a bar from 06:00 to 22:00: a quarter of the way along.
        item.drag_to(row, target_position={"x": box["width"] * 0.25 + 1, "y": box["height"] / 2})
        page.wait_for_selector(f".appointment[data-request='{waiting_id}']")
        assert page.locator(".flash-success").count() == 1
    finally:
        page.close()
    booked = _current(waiting_id)
    assert booked is not None and booked.status == "booked" and booked.engineer_id == engineer_id
    assert (_local(booked.starts_at), _local(booked.ends_at)) == ("10:00", "12:00")
    sr = _db.session.get(ServiceRequest, waiting_id)
    assert sr.status == "assigned" and sr.engineer_id == engineer_id


@pytest.mark.browser
def test_move_an_appointment_with_its_reason(live_server, browser, db, make_user, assigned, engineer, day):
    dispatcher = make_user("dispatcher", username="board-move")
    sr = assigned()
    start, end = window(day, "10:00", "12:00")
    appts.book_appointment(sr, {"start": start, "end": end}, dispatcher, sr.version)
    db.session.commit()
    request_id, engineer_id = sr.id, engineer.id
    db.session.remove()

    page = browser.new_page(locale="en-US")
    try:
        _login(page, live_server.url, "board-move")
        page.goto(f"{live_server.url}/schedule?date={day.isoformat()}&lang=en")
        bar = page.locator(f".appointment[data-request='{request_id}']")
        row = page.locator(f"[data-testid=row-{engineer_id}]").bounding_box()
        box = bar.bounding_box()
        x, y = box["x"] + box["width"] / 3, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + row["width"] / 32, y, steps=5)  # half an hour of the sixteen shown
        page.mouse.move(x + row["width"] / 16, y, steps=5)  # one hour
        page.mouse.up()
        dialog = page.locator("[data-testid=move-dialog]")
        dialog.wait_for(state="visible")
        assert "11:00" in dialog.inner_text() and "13:00" in dialog.inner_text()
        dialog.locator("input[name=reason]").fill("客户改到下午")
        dialog.locator("button[type=submit]").click()
        page.wait_for_function(
            "() => { const b = document.querySelector('.appointment.movable');"
            " return b && b.dataset.startMinutes === '660'; }"
        )
    finally:
        page.close()
    moved = _current(request_id)
    assert (_local(moved.starts_at), _local(moved.ends_at)) == ("11:00", "13:00")
    assert moved.reason == "客户改到下午" and moved.reschedules == 1


@pytest.mark.browser
def test_a_stale_board_names_who_changed_the_request(live_server, browser, db, make_user, assigned, engineer, day):
    dispatcher = make_user("dispatcher", username="board-stale")
    other = make_user("dispatcher", username="board-other", name="王调度")
    sr = assigned()
    start, end = window(day, "10:00", "12:00")
    appts.book_appointment(sr, {"start": start, "end": end}, dispatcher, sr.version)
    db.session.commit()
    request_id, engineer_id, version, other_id = sr.id, engineer.id, sr.version, other.id
    db.session.remove()

    page = browser.new_page(locale="en-US")
    try:
        _login(page, live_server.url, "board-stale")
        page.goto(f"{live_server.url}/schedule?date={day.isoformat()}&lang=en")
        # Meanwhile another dispatcher moves the window (the board still shows the old one).
        sr, other = _db.session.get(ServiceRequest, request_id), _db.session.get(User, other_id)
        later = window(day, "14:00", "15:00")
        appts.book_appointment(sr, {"start": later[0], "end": later[1], "reason": "电话改约"}, other, version)
        _db.session.commit()
        bar = page.locator(f".appointment[data-request='{request_id}']")
        row = page.locator(f"[data-testid=row-{engineer_id}]").bounding_box()
        box = bar.bounding_box()
        x, y = box["x"] + box["width"] / 3, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + row["width"] / 16, y, steps=8)
        page.mouse.up()
        dialog = page.locator("[data-testid=move-dialog]")
        dialog.locator("input[name=reason]").fill("晚一点")
        dialog.locator("button[type=submit]").click()
        # The board reloads to show the window as it is now, and says who moved it: nothing was overwritten.
        page.wait_for_function(
            "() => { const b = document.querySelector('.appointment.movable');"
            " return b && b.dataset.startMinutes === '840'; }"
        )
        assert "王调度" in page.locator(".flash-error").inner_text()
    finally:
        page.close()
    kept = _current(request_id)
    assert (_local(kept.starts_at), _local(kept.ends_at)) == ("14:00", "15:00")


@pytest.fixture
def map_server(app, app_config):
    """The app over real HTTP with its map tiles on a server of their own (the browser test answers for it)."""
    from fieldservice import create_app
    from tests.serving import serving

    with serving(create_app({**app_config, "FIELDSERVICE_MAP_TILES": "http://tiles.test/{z}/{x}/{y}.png"})) as server:
        yield server


def _blank_tile() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (256, 256), (240, 240, 240)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.browser
def test_the_map_shows_requests_engineers_and_a_route(
    map_server, browser, db, make_user, make_customer, make_request, assigned, engineer, day
):
    dispatcher = make_user("dispatcher", username="board-map")
    engineer.lat, engineer.lng = 31.2304, 121.4737
    db.session.commit()
    stops = []
    for start, end, place in (("09:00", "10:00", (31.2000, 121.4500)), ("13:00", "14:00", (31.2500, 121.5000))):
        sr = assigned(customer=make_customer(lat=place[0], lng=place[1], name="<b>客户</b>"))
        appts.book_appointment(sr, dict(zip(("start", "end"), window(day, start, end), strict=True)), dispatcher)
        db.session.commit()
        stops.append(sr.id)
    make_request(customer=make_customer(lat=31.2200, lng=121.4800))  # waiting, no window
    engineer_id = engineer.id
    db.session.remove()

    page = browser.new_page(locale="en-US")
    tiles, refused = [], []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.route(
        "http://tiles.test/**",
        lambda route: (tiles.append(route.request.url), route.fulfill(body=_blank_tile(), content_type="image/png")),
    )
    try:
        _login(page, map_server.url, "board-map")
        page.goto(f"{map_server.url}/schedule?date={day.isoformat()}&lang=en")
        page.wait_for_selector(".leaflet-tile-loaded")
        assert page.locator("path.map-request").count() == 3
        assert page.locator("path.map-booked").count() == 2
        assert page.locator("path.map-engineer").count() == 1
        assert page.locator("path.map-route").count() == 0
        page.locator(f".route-pick[data-engineer='{engineer_id}']").click()
        page.wait_for_selector("path.map-route")
        # Home, then the two stops in time order: three points, two legs.
        assert page.locator("path.map-route").get_attribute("d").count("L") == 2
        # A customer's name is text in the tooltip, never markup.
        page.locator("path.map-booked").first.hover()
        assert "<b>客户</b>" in page.locator(".leaflet-tooltip").inner_text()
    finally:
        page.close()
    assert tiles and all(t.startswith("http://tiles.test/") for t in tiles)
    assert refused == []
