"""Tokens, roles and the user administration API (API.md "Conventions")."""

import sqlalchemy as sa

from fieldservice.auth.models import User


def test_token_then_me(client, make_user):
    make_user("dispatcher", username="lina")
    response = client.post("/api/v1/auth/token", json={"username": "lina", "password": "password123"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["username"] == "lina" and body["user"]["role"] == "dispatcher" and body["user"]["id"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["username"] == "lina"


def test_wrong_password_is_401_in_the_error_format(client, make_user):
    make_user("dispatcher", username="lina")
    response = client.post("/api/v1/auth/token", json={"username": "lina", "password": "nope-nope"})
    assert response.status_code == 401
    assert set(response.get_json()["error"]) >= {"code", "message", "fields"}


def test_missing_fields_are_422_naming_each(client):
    response = client.post("/api/v1/auth/token", json={})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"username", "password"}


def test_a_forged_or_garbled_token_is_401(client):
    for token in ("abc", "eyJ1Ijo1fQ.forged.sig"):
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_disabling_a_user_revokes_their_tokens(api_as, make_user):
    admin = api_as("admin")
    engineer = api_as("engineer")
    assert engineer.get("/api/v1/auth/me").status_code == 200
    response = admin.patch(
        f"/api/v1/users/{engineer.user.id}", json={"version": engineer.user.version, "active": False}
    )
    assert response.status_code == 200, response.get_json()
    assert engineer.get("/api/v1/auth/me").status_code == 401


def test_only_admins_manage_users(api_as):
    for role in ("manager", "dispatcher", "engineer", "callback"):
        assert api_as(role).get("/api/v1/users").status_code == 403
    assert api_as("admin").get("/api/v1/users").status_code == 200


def test_create_user_validates_and_changes_nothing_on_error(api_as, db):
    admin = api_as("admin")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    response = admin.post("/api/v1/users", json={"username": "x", "password": "short", "role": "boss"})
    assert response.status_code == 422
    assert {"password", "role"} <= set(response.get_json()["error"]["fields"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before
    created = admin.post(
        "/api/v1/users", json={"username": "wang", "password": "password123", "role": "callback"}
    )
    assert created.status_code == 201 and created.get_json()["role"] == "callback"
    again = admin.post(
        "/api/v1/users", json={"username": "wang", "password": "password123", "role": "callback"}
    )
    assert again.status_code == 422 and "username" in again.get_json()["error"]["fields"]


def test_a_stale_version_is_409_and_changes_nothing(api_as, make_user, db):
    admin = api_as("admin")
    user = make_user("dispatcher", name="旧名字")
    read = user.version
    first = admin.patch(f"/api/v1/users/{user.id}", json={"version": read, "name": "新名字"})
    assert first.status_code == 200 and first.get_json()["version"] == read + 1
    stale = admin.patch(f"/api/v1/users/{user.id}", json={"version": read, "name": "另一个"})
    assert stale.status_code == 409
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "新名字"


def test_an_admin_cannot_disable_themself(api_as):
    admin = api_as("admin")
    response = admin.patch(
        f"/api/v1/users/{admin.user.id}", json={"version": admin.user.version, "active": False}
    )
    assert response.status_code == 409


def test_a_token_works_for_a_day_offline_and_expires_after_its_lifetime(app, client, db, make_user, monkeypatch):
    import time as real_time

    import itsdangerous.timed

    from fieldservice.auth.operations import issue_token

    user = make_user("engineer")
    lifetime = app.config["API_TOKEN_MAX_AGE"].total_seconds()
    issued_at = real_time.time()
    token = issue_token(user)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    def at(seconds_later):
        monkeypatch.setattr(
            itsdangerous.timed,
            "time",
            type("T", (), {"time": staticmethod(lambda: issued_at + seconds_later)}),
        )

    at(26 * 3600)  # a working day and a night offline
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    at(lifetime + 60)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
