"""Logins that can be ended (issue #20, finding 1): console sessions, remember cookies and API tokens each belong to
a stored login (user_sessions) that logout, a new password, a new role or disabling ends."""

import time as real_time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import itsdangerous.timed
import pytest
import sqlalchemy as sa

from fieldservice import create_app
from fieldservice.auth import operations
from fieldservice.auth.models import UserSession
from tests.conftest import _truncate_all

REMEMBER = "remember_token"


def _console_login(app, user, remember=False, **environ):
    client = app.test_client()
    client.environ_base.update(environ)
    data = {"username": user.username, "password": "password123"}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.data
    return client, response


def _logged_in(client) -> bool:
    return client.get("/home").status_code == 200


def _token(client, user) -> str:
    response = client.post("/api/v1/auth/token", json={"username": user.username, "password": "password123"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_cookies_carry_a_login_key_not_the_user_id(app, make_user, db):
    user = make_user("dispatcher")
    client, _ = _console_login(app, user, remember=True)
    key = client.get_cookie(REMEMBER).value.split("|")[0]
    assert key != str(user.id)
    login = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
    assert login.kind == "console" and key not in (login.key_hash,)  # the row keeps only the hash
    assert operations.session_for_key(key, "console").id == login.id


def test_an_old_remember_cookie_is_refused_after_logout(app, make_user):
    user = make_user("dispatcher")
    client, _ = _console_login(app, user, remember=True)
    cookie = client.get_cookie(REMEMBER).value
    # The remember cookie alone logs in (a browser restarted)...
    replay = app.test_client()
    replay.set_cookie(REMEMBER, cookie)
    assert _logged_in(replay)
    client.post("/logout")
    assert not _logged_in(client)
    # ...but not once its login ended, whoever kept a copy.
    stolen = app.test_client()
    stolen.set_cookie(REMEMBER, cookie)
    assert not _logged_in(stolen)


def test_an_old_session_cookie_is_refused_after_logout(app, make_user):
    user = make_user("dispatcher")
    client, _ = _console_login(app, user)
    session_cookie = client.get_cookie("session").value
    client.post("/logout")
    copy = app.test_client()
    copy.set_cookie("session", session_cookie)
    assert not _logged_in(copy)


@pytest.mark.parametrize(
    "change",
    [{"password": "a-new-password-1"}, {"role": "manager"}, {"active": False}],
    ids=["password", "role", "disabled"],
)
def test_a_new_password_role_or_disabling_ends_every_login(app, api_as, make_user, change):
    admin = api_as("admin")
    user = make_user("dispatcher")
    console, _ = _console_login(app, user)
    remembered, _ = _console_login(app, user, remember=True)
    cookie = remembered.get_cookie(REMEMBER).value
    token = _token(app.test_client(), user)
    assert _logged_in(console) and _logged_in(remembered)
    assert app.test_client().get("/api/v1/auth/me", headers=_bearer(token)).status_code == 200

    answer = admin.patch(f"/api/v1/users/{user.id}", json={"version": user.version, **change})
    assert answer.status_code == 200, answer.get_json()

    assert not _logged_in(console)
    replay = app.test_client()
    replay.set_cookie(REMEMBER, cookie)
    assert not _logged_in(replay)
    assert app.test_client().get("/api/v1/auth/me", headers=_bearer(token)).status_code == 401


def test_a_name_change_ends_no_login(app, api_as, make_user):
    admin = api_as("admin")
    user = make_user("dispatcher")
    console, _ = _console_login(app, user)
    answer = admin.patch(f"/api/v1/users/{user.id}", json={"version": user.version, "name": "新名字"})
    assert answer.status_code == 200
    assert _logged_in(console)


def test_admin_disabling_on_the_console_ends_the_users_logins(app, console_as, make_user):
    admin = console_as("admin")
    user = make_user("dispatcher")
    console, _ = _console_login(app, user)
    form = {"username": user.username, "name": user.name, "role": user.role, "version": user.version}
    assert admin.post(f"/admin/users/{user.id}", data=form).status_code == 302  # `active` unticked
    assert not _logged_in(console)


def test_the_remember_cookie_lasts_at_most_30_days_and_is_locked_down(app_config, _schema, monkeypatch):
    monkeypatch.setenv("FIELDSERVICE_ENV", "production")
    monkeypatch.setenv("FIELDSERVICE_REMEMBER_DAYS", "365")  # asking for more gets 30
    app = create_app(app_config)
    with app.app_context():
        try:
            user = operations.create_user("remembered", "password123", "dispatcher")
            operations.db.session.commit()
            _, response = _console_login(app, user, remember=True)
            cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(REMEMBER + "="))
            attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
            assert {"secure", "httponly"} <= set(attributes)
            assert attributes["samesite"].strip() == "SameSite=Lax"
            expires = parsedate_to_datetime(attributes["expires"].split("=", 1)[1])
            assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)
            login = operations.db.session.scalar(sa.select(UserSession))
            assert login.expires_at - login.created_at == timedelta(days=30)
        finally:
            operations.db.session.remove()
            _truncate_all()
            operations.db.engine.dispose()


@pytest.fixture
def clock(monkeypatch):
    """Move the clock of the tokens' signatures and of the logins' expiry together: clock(days=12)."""
    start = real_time.time()

    def at(**delta):
        later = start + timedelta(**delta).total_seconds()
        monkeypatch.setattr(itsdangerous.timed, "time", type("T", (), {"time": staticmethod(lambda: later)}))
        monkeypatch.setattr(operations, "utcnow", lambda: datetime.fromtimestamp(later, UTC))

    return at


def test_renewing_cannot_carry_a_token_past_the_absolute_limit(app, client, make_user, clock):
    user = make_user("engineer")
    token = _token(client, user)
    limit = app.config["API_TOKEN_ABSOLUTE_MAX_AGE"]
    assert limit == timedelta(days=30)
    for day in (6, 12, 18, 24):  # a phone that syncs every few days stays logged in...
        clock(days=day)
        renewed = client.post("/api/v1/auth/renew", headers=_bearer(token))
        assert renewed.status_code == 200, (day, renewed.get_json())
        token = renewed.get_json()["token"]
    expires_at = datetime.fromisoformat(renewed.get_json()["expires_at"])
    login = operations.db.session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
    assert expires_at == login.expires_at  # the token says it ends with its login, not 7 days on
    clock(days=29)
    assert client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 200
    clock(days=30, minutes=1)  # ...until 30 days after it logged in: renewing no longer helps
    assert client.post("/api/v1/auth/renew", headers=_bearer(token)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 401


def test_a_token_can_be_logged_out(client, make_user):
    user = make_user("engineer")
    token, other = _token(client, user), _token(client, user)
    assert client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 204
    assert client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 401
    assert client.post("/api/v1/auth/renew", headers=_bearer(token)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(other)).status_code == 200  # the phone's other login


def test_the_api_lists_and_ends_the_callers_logins(app, client, make_user):
    user = make_user("dispatcher")
    stranger_token = _token(client, make_user("dispatcher"))
    console, _ = _console_login(app, user, REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Firefox/140")
    phone, laptop = _token(client, user), _token(client, user)

    listed = client.get("/api/v1/auth/sessions", headers=_bearer(laptop)).get_json()
    assert listed["total"] == 3
    assert {item["kind"] for item in listed["items"]} == {"console", "api"}
    (current,) = [item for item in listed["items"] if item["current"]]
    browser = next(item for item in listed["items"] if item["kind"] == "console")
    assert browser["user_agent"] == "Firefox/140" and browser["remote_addr"] == "10.1.2.3"
    assert {"created_at", "last_seen_at", "expires_at"} <= set(browser)
    other_ids = [item["id"] for item in listed["items"] if not item["current"]]
    phone_id = next(i for i in other_ids if i != browser["id"])

    assert client.delete(f"/api/v1/auth/sessions/{phone_id}", headers=_bearer(laptop)).status_code == 204
    assert client.get("/api/v1/auth/me", headers=_bearer(phone)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(laptop)).status_code == 200
    assert _logged_in(console)
    # Another user's login, or one ended already: 404, and nothing changes.
    stranger_login = client.get("/api/v1/auth/sessions", headers=_bearer(stranger_token)).get_json()["items"][0]
    assert client.delete(f"/api/v1/auth/sessions/{stranger_login['id']}", headers=_bearer(laptop)).status_code == 404
    assert client.delete(f"/api/v1/auth/sessions/{phone_id}", headers=_bearer(laptop)).status_code == 404
    assert client.get("/api/v1/auth/me", headers=_bearer(stranger_token)).status_code == 200

    ended = client.post("/api/v1/auth/sessions/end-others", headers=_bearer(laptop))
    assert ended.status_code == 200 and ended.get_json() == {"ended": 1}
    assert not _logged_in(console)
    assert client.get("/api/v1/auth/me", headers=_bearer(laptop)).status_code == 200
    assert [
        item["id"] for item in client.get("/api/v1/auth/sessions", headers=_bearer(laptop)).get_json()["items"]
    ] == [current["id"]]


def test_the_console_page_lists_and_ends_the_users_sessions(app, make_user, db):
    user = make_user("dispatcher")
    office, _ = _console_login(app, user, HTTP_USER_AGENT="Office-PC")
    home, _ = _console_login(app, user, HTTP_USER_AGENT="Home-Laptop")
    token = _token(app.test_client(), user)

    page = office.get("/account/sessions?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Office-PC" in html and "Home-Laptop" in html and "This session" in html
    assert "My sessions" in office.get("/home?lang=en").get_data(as_text=True)  # in the user menu
    assert "我的登录会话" in office.get("/account/sessions?lang=zh_Hans").get_data(as_text=True)

    home_id = db.session.scalar(sa.select(UserSession.id).where(UserSession.user_agent == "Home-Laptop"))
    assert office.post(f"/account/sessions/{home_id}/end").status_code == 302
    assert not _logged_in(home)
    assert _logged_in(office)

    assert office.post("/account/sessions/end-others").status_code == 302
    assert app.test_client().get("/api/v1/auth/me", headers=_bearer(token)).status_code == 401
    assert _logged_in(office)


def test_last_seen_is_written_at_most_once_a_minute(app, make_user, db, monkeypatch):
    user = make_user("dispatcher")
    client, _ = _console_login(app, user)
    login = db.session.scalar(sa.select(UserSession))
    first_seen = login.last_seen_at
    writes = []
    sa.event.listen(
        db.engine, "before_cursor_execute", lambda *a: writes.append(a[2]) if "UPDATE user_sessions" in a[2] else None
    )
    for _ in range(5):
        assert _logged_in(client)
    assert writes == []
    later = first_seen + timedelta(minutes=2)
    monkeypatch.setattr(operations, "utcnow", lambda: later)
    assert _logged_in(client)
    assert _logged_in(client)
    assert len(writes) == 1
    db.session.expire_all()
    assert db.session.get(UserSession, login.id).last_seen_at == later


def test_two_copies_of_a_user_are_the_same_user(make_user, db):
    user = make_user("dispatcher")
    other = make_user("dispatcher")
    user_id = user.id
    db.session.expunge(user)
    copy = db.session.get(type(user), user_id)
    assert copy is not user and copy == user  # compared by id, not by login
    assert copy != other


def test_a_log_in_drops_the_users_logins_that_ended_long_ago(client, make_user, db):
    user = make_user("engineer")
    old, recent = _token(client, user), _token(client, user)
    assert client.post("/api/v1/auth/logout", headers=_bearer(old)).status_code == 204
    assert client.post("/api/v1/auth/logout", headers=_bearer(recent)).status_code == 204
    first = db.session.scalar(sa.select(UserSession).order_by(UserSession.id))
    first.revoked_at -= timedelta(days=31)
    first_id = first.id
    db.session.commit()
    _token(client, user)
    db.session.expire_all()
    kept = db.session.scalars(sa.select(UserSession.id).order_by(UserSession.id)).all()
    assert len(kept) == 2 and first_id not in kept  # the one ended yesterday stays on record
