"""The one place that builds public links (printed in QR codes and sent to customers)."""

from flask import current_app


def public_url(path: str) -> str:
    """FIELDSERVICE_PUBLIC_URL + *path* (which starts with a slash)."""
    if not path.startswith("/"):
        raise ValueError("public paths start with /")
    return current_app.config["FIELDSERVICE_PUBLIC_URL"] + path


def customer_page_url(token: str) -> str:
    return public_url(f"/r/{token}")
