"""Headers and cookies (issue #20, finding 7): what every answer carries, and what production adds."""

from fieldservice import create_app


def test_every_answer_carries_the_safety_headers(client):
    for path in ("/login", "/api/v1/openapi.json", "/healthz", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "SAMEORIGIN", path
        assert "frame-ancestors 'self'" in headers["Content-Security-Policy"], path
        assert headers["Referrer-Policy"] in ("same-origin", "no-referrer"), path
        assert "Strict-Transport-Security" not in headers, path  # development: plain HTTP


def test_production_sends_hsts_and_secure_cookies(app_config, monkeypatch):
    monkeypatch.setenv("FIELDSERVICE_ENV", "production")
    app = create_app(app_config)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    answer = app.test_client().get("/login")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = answer.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_405_says_which_methods_are_allowed(api_as):
    answer = api_as("dispatcher").client.delete("/api/v1/requests", headers=api_as("dispatcher").headers)
    assert answer.status_code == 405
    assert "GET" in answer.headers["Allow"] and "POST" in answer.headers["Allow"]
    assert answer.get_json()["error"]["code"] == "method_not_allowed"


def test_429_says_when_to_come_back(client, monkeypatch):
    from fieldservice.reports import views

    monkeypatch.setattr(views, "allow", lambda *args, **kwargs: False)
    answer = client.get("/r/any-token")
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0
