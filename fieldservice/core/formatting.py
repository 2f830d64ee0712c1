"""Jinja filters for times, money and labels, in the user's language and the site's time zone."""

from datetime import datetime
from decimal import Decimal

from flask import Flask
from flask_babel import format_datetime, format_decimal

from fieldservice.core.states import event_actor


def local_datetime(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    if value is None:
        return ""
    return format_datetime(value, fmt)


def money(value: Decimal | float | int | None) -> str:
    if value is None:
        return ""
    return "¥" + format_decimal(value, format="#,##0.00")


def register(app: Flask) -> None:
    app.jinja_env.filters["dt"] = local_datetime
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["isodt"] = iso_local
    app.jinja_env.globals.update(_template_globals())
    # A timeline entry's author: a person's name, or the system or the customer in the reader's language.
    app.jinja_env.globals["event_actor"] = event_actor


def _template_globals() -> dict:
    from flask_babel import get_locale

    return {"get_locale": get_locale, "locale_code": lambda: str(get_locale() or "zh_Hans")}


def iso_local(value: str | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Format an ISO 8601 string (as stored in report snapshots) in the site's time zone."""
    if not value:
        return ""
    return local_datetime(datetime.fromisoformat(value), fmt)
