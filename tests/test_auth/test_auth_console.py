"""Console log-in, CSRF, the language switch and the user admin pages."""

import pytest

from fieldservice import create_app


def test_login_page_then_home(client, make_user):
    make_user("dispatcher", username="lina")
    assert client.get("/login").status_code == 200
    response = client.post("/login", data={"username": "lina", "password": "password123"})
    assert response.status_code == 302
    assert client.get("/home").status_code == 200


def test_bad_login_shows_the_form_with_a_message(client, make_user):
    make_user("dispatcher", username="lina")
    response = client.post("/login?lang=en", data={"username": "lina", "password": "wrong-pass"})
    assert response.status_code == 401
    assert "lina" in response.get_data(as_text=True)
    assert 'class="error"' in response.get_data(as_text=True)


def test_console_pages_want_a_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_only_admins_see_user_admin(console_as):
    assert console_as("dispatcher").get("/admin/users").status_code == 403
    assert console_as("admin").get("/admin/users").status_code == 200


def test_admin_creates_a_user_and_bad_input_rerenders(console_as, db):
    from fieldservice.auth.models import User

    admin = console_as("admin")
    bad = admin.post(
        "/admin/users/new?lang=en", data={"username": "zhao", "role": "engineer", "password": "x"}
    )
    assert bad.status_code == 422
    assert db.session.query(User).filter_by(username="zhao").count() == 0
    good = admin.post(
        "/admin/users/new",
        data={"username": "zhao", "name": "赵工", "role": "engineer", "password": "password123"},
    )
    assert good.status_code == 302
    assert db.session.query(User).filter_by(username="zhao").one().role == "engineer"


def test_language_switch_changes_the_ui(console_as):
    client = console_as("dispatcher")
    assert "退出" in client.get("/home").get_data(as_text=True) or "登出" in client.get("/home").get_data(
        as_text=True
    )
    client.post("/lang/en", data={"next": "/home"})
    assert "Log out" in client.get("/home").get_data(as_text=True)


@pytest.fixture
def csrf_app(app_config, _schema):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        yield app


def test_forms_refuse_a_post_without_the_csrf_token(csrf_app, make_user):
    make_user("dispatcher", username="lina")
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "lina", "password": "password123"})
    assert response.status_code in (400, 401)
    assert client.get("/home").status_code == 302
