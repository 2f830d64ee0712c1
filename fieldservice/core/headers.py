"""Response headers every page and API answer carries: no sniffing, no framing by other sites, a referrer
policy, and HSTS in production (where the site is served over HTTPS)."""

from flask import Flask, Response, current_app

HSTS = "max-age=31536000; includeSubDomains"


def _secure_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
    # A page that must not leak its URL (the customer's page, a token in its path) sets no-referrer itself.
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["FIELDSERVICE_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_headers(app: Flask) -> None:
    app.after_request(_secure_headers)
