"""The customer's side: the window on the QR page, asking for another one, and the messages about it."""

import sqlalchemy as sa

from fieldservice.appointments import operations as appts
from fieldservice.notifications.models import Notification
from fieldservice.reports import operations as reports
from tests.test_appointments.conftest import window


def _token(sr) -> str:
    return reports.urls_for(sr)["url"].rsplit("/r/", 1)[1]


def _book(db, sr, actor, day, start="09:00", end="11:00", **kw):
    appts.book_appointment(sr, dict(zip(("start", "end"), window(day, start, end), strict=True), **kw), actor)
    db.session.commit()


def _messages(db, event):
    return db.session.scalars(
        sa.select(Notification).where(Notification.event == event).order_by(Notification.id)
    ).all()


def test_the_qr_page_shows_the_window(db, client, assigned, make_user, engineer, day):
    sr = assigned()
    token = _token(sr)
    db.session.commit()
    assert 'data-testid="appointment-window"' not in client.get(f"/r/{token}").get_data(as_text=True)
    _book(db, sr, make_user("dispatcher"), day)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert 'data-testid="appointment-window"' in page
    assert f"{day.isoformat()} 09:00–11:00" in page
    assert "您的预约" in page
    assert "Your appointment" in client.get(f"/r/{token}?lang=en").get_data(as_text=True)


def test_the_customer_asks_for_another_window_without_moving_it(db, client, assigned, make_user, day):
    sr = assigned()
    token = _token(sr)
    _book(db, sr, make_user("dispatcher"), day)
    response = client.post(f"/r/{token}/appointment/change", data={"note": "下午三点以后"})
    assert response.status_code == 302
    current = appts.current_appointment(sr.id)
    assert current.change_request_note == "下午三点以后"
    assert current.starts_at == window(day, "09:00", "11:00")[0]
    assert 'data-testid="appointment-change-asked"' in client.get(f"/r/{token}").get_data(as_text=True)


def test_asking_as_json_and_without_a_window(db, client, assigned, make_user, day):
    sr = assigned()
    token = _token(sr)
    db.session.commit()
    response = client.post(f"/r/{token}/appointment/change", json={"note": "明天"})
    assert response.status_code == 409 and response.json["error"]["code"] == "no_appointment"
    _book(db, sr, make_user("dispatcher"), day)
    assert client.post(f"/r/{token}/appointment/change", json={"note": 5}).status_code == 422
    response = client.post(f"/r/{token}/appointment/change", json={"note": "明天"})
    assert response.status_code == 200 and response.json == {"change_requested": True}
    assert client.post("/r/wrong-token/appointment/change", json={}).status_code == 404


def test_the_customer_is_told_of_a_booking_and_of_a_change(db, assigned, make_user, engineer, day):
    sr = assigned()
    dispatcher = make_user("dispatcher")
    _book(db, sr, dispatcher, day)
    [booked] = _messages(db, "appointment_booked")
    assert f"{day.isoformat()} 09:00–11:00" in booked.body and engineer.name in booked.body
    _book(db, sr, dispatcher, day, "14:00", "15:00", reason="客户改到下午")
    [changed] = _messages(db, "appointment_changed")
    assert f"{day.isoformat()} 14:00–15:00" in changed.body


def test_the_messages_in_both_languages(app):
    from fieldservice.notifications.messages import render

    _, zh = render("appointment_booked", "zh_Hans", number="SR-1", engineer="张师傅", window="2026-12-08 09:00–11:00")
    _, en = render("appointment_booked", "en", number="SR-1", engineer="Zhang", window="2026-12-08 09:00–11:00")
    assert zh == "工程师张师傅将于 2026-12-08 09:00–11:00 上门处理您的服务请求 SR-1。"
    assert en == "Engineer Zhang will visit you for service request SR-1 on 2026-12-08 09:00–11:00."


def test_the_managers_are_told_of_a_missed_appointment(db, assigned, make_user, day):
    manager = make_user("manager", email="boss@example.com")
    make_user("manager", email="gone@example.com").active = False
    sr = assigned()
    start, end = window(day, "09:00", "10:00")
    _book(db, sr, make_user("dispatcher"), day, "09:00", "10:00")
    from datetime import timedelta

    appts.sweep_appointments(end + timedelta(minutes=45))
    db.session.commit()
    missed = _messages(db, "appointment_missed")
    assert [n.recipient for n in missed] == [manager.email]
    assert sr.number in missed[0].body
