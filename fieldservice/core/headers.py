"""Response headers every page and API answer carries: no sniffing, no framing by other sites, a referrer
policy, a content security policy on pages, and HSTS in production (where the site is served over HTTPS)."""

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

HSTS = "max-age=31536000; includeSubDomains"

# Pages (console, PWA, the customer's and the equipment's pages) run only the scripts and styles this site
# serves as files: no inline <script>, no style="" attributes, nothing from elsewhere. Images may be data: and
# blob: URLs (the signature and the photos an engineer takes before they are uploaded).
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
# flask-smorest's Swagger UI page starts the UI with an inline script and Swagger UI styles its elements inline:
# that page alone (the API's documentation, no user data) may run inline code.
API_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)
# Anything that is not a page (JSON, PDF, images) is never a document that runs code: framing is all to refuse.
OTHER_POLICY = "frame-ancestors 'self'"


def page_policy_with_images(*urls: str) -> str:
    """The page policy, allowing images from the origins of *urls* too (a map's tile server, as a URL template:
    `{s}` stands for any subdomain). A view sets it on its response; relative URLs are the site's own."""
    origins = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            host = parts.netloc.replace("{s}", "*")
            if all(c.isalnum() or c in ".-:*" for c in host):  # nothing that could end the directive
                origins.append(f"{parts.scheme}://{host}")
    if not origins:
        return PAGE_POLICY
    return PAGE_POLICY.replace("img-src 'self' data: blob:;", "img-src 'self' data: blob: " + " ".join(origins) + ";")


def _content_security_policy(response: Response) -> str:
    if response.mimetype != "text/html":
        return OTHER_POLICY
    if (request.endpoint or "").startswith("api-docs."):
        return API_DOCS_POLICY
    return PAGE_POLICY


def _secure_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Content-Security-Policy", _content_security_policy(response))
    # A page that must not leak its URL (the customer's page, a token in its path) sets no-referrer itself.
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["FIELDSERVICE_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_headers(app: Flask) -> None:
    app.after_request(_secure_headers)
