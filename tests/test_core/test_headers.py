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


def test_pages_may_run_only_this_sites_script_and_style_files(client):
    for path in ("/login", "/app/"):
        with client.get(path) as answer:
            policy = answer.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", path
        assert directives["style-src"] == "'self'", path
        assert directives["object-src"] == "'none'", path


def test_only_the_api_documentation_page_may_run_inline_code(client):
    answer = client.get("/api/v1/docs")
    assert answer.status_code == 200
    assert "script-src 'self' 'unsafe-inline'" in answer.headers["Content-Security-Policy"]


def test_no_template_holds_inline_script_or_style():
    """What the policy refuses must not be in a page: scripts and styles live in static files."""
    import re
    from pathlib import Path

    import fieldservice

    root = Path(fieldservice.__file__).parent
    pages = [p for p in root.rglob("templates/**/*.html") if "_pdf" not in p.name]  # PDFs: WeasyPrint, no CSP
    pages += list((root.parent / "pwa").glob("*.html"))
    scripts = list((root.parent / "pwa" / "js").glob("*.js")) + list(root.rglob("static/js/*.js"))
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=\"")
    assert [str(p) for p in pages if inline.search(p.read_text())] == []
    assert [str(p) for p in scripts if re.search(r"\sstyle=", p.read_text())] == []


def test_414_and_431_answer_api_clients_in_the_error_format(api_as):
    api = api_as("dispatcher")
    long_uri = api.get("/api/v1/requests?q=" + "x" * 5000)
    assert long_uri.status_code == 414
    assert long_uri.get_json()["error"]["code"] == "uri_too_long"
    big_header = api.get("/api/v1/requests", headers={"X-Big": "x" * 9000})
    assert big_header.status_code == 431
    assert big_header.get_json()["error"]["code"] == "headers_too_large"
    many = api.get("/api/v1/requests", headers={f"X-H{i}": "1" for i in range(120)})
    assert many.status_code == 431


def test_outside_the_api_a_json_client_gets_json_and_a_browser_a_page(client):
    as_json = client.get("/login?q=" + "x" * 5000, headers={"Accept": "application/json"})
    assert as_json.status_code == 414
    assert as_json.get_json()["error"]["code"] == "uri_too_long"
    as_page = client.get("/login?q=" + "x" * 5000, headers={"Accept": "text/html"})
    assert as_page.status_code == 414
    assert as_page.mimetype == "text/html"


def test_413_answers_json_clients_in_the_error_format(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    answer = client.post("/r/some-token/rating", json={"comment": "x" * 2000}, headers={"Accept": "application/json"})
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "too_large"
