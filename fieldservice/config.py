"""Settings, read from the environment; SQLite and inline jobs by default."""

import os
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path


def _default_database_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "fieldservice.db")


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the app's settings from the environment, then apply *overrides* (tests pass theirs here)."""
    env = os.environ
    development = env.get("FLASK_DEBUG") == "1" or env.get("FIELDSERVICE_ENV", "development") == "development"
    config = {
        "FIELDSERVICE_ENV": env.get("FIELDSERVICE_ENV", "development"),
        "SECRET_KEY": env.get("SECRET_KEY") or ("dev-only-not-secret" if development else None),
        "SQLALCHEMY_DATABASE_URI": _normalise_db_url(
            env.get("DATABASE_URL") or _default_database_url(instance_path)
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("REDIS_URL") or None,
        "FIELDSERVICE_PUBLIC_URL": (env.get("FIELDSERVICE_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip(
            "/"
        ),
        "FIELDSERVICE_TIMEZONE": env.get("FIELDSERVICE_TIMEZONE", "Asia/Shanghai"),
        # Reverse proxies in front of gunicorn whose X-Forwarded-* headers are trusted (0: none, the client's own
        # address counts; the rate limits of the login and of the customer's page key on it).
        "FIELDSERVICE_PROXIES": int(env.get("FIELDSERVICE_PROXIES", "0")),
        # The speed assumed between two customers (straight line) when an engineer's appointments follow each other.
        "APPOINTMENT_TRAVEL_KMH": float(env.get("APPOINTMENT_TRAVEL_KMH", "30")),
        # The schedule board's map tiles ({z}/{x}/{y}, {s} for a subdomain); a Chinese site sets its own server.
        "FIELDSERVICE_MAP_TILES": env.get("FIELDSERVICE_MAP_TILES", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        # A customer's link (QR code, message) stops working this many days after the later of its issue and the
        # request's closing; the customer can ask for a new one from a phone number on record.
        "FIELDSERVICE_PUBLIC_LINK_DAYS": int(env.get("FIELDSERVICE_PUBLIC_LINK_DAYS", "180")),
        # The service hotline printed on the units' QR labels and shown on their public page (none when empty).
        "FIELDSERVICE_SERVICE_HOTLINE": env.get("FIELDSERVICE_SERVICE_HOTLINE", "").strip(),
        # Engineers stay offline for a working day and more; the token must outlive that.
        "API_TOKEN_MAX_AGE": timedelta(days=int(env.get("FIELDSERVICE_TOKEN_DAYS", "7"))),
        # Renewing a token moves its lifetime on, never past this much after the log-in that issued it.
        "API_TOKEN_ABSOLUTE_MAX_AGE": timedelta(days=int(env.get("FIELDSERVICE_TOKEN_MAX_DAYS", "30"))),
        # A console log-in without "keep me logged in" ends after this much, whatever the browser keeps.
        "CONSOLE_SESSION_MAX_AGE": timedelta(hours=int(env.get("FIELDSERVICE_SESSION_HOURS", "12"))),
        # A login's last_seen_at is written at most this often (not on every request).
        "SESSION_TOUCH_INTERVAL": timedelta(minutes=1),
        # Log-in throttling (README "Security"): failures per client address, and per account (ASVS V2.2.1: at
        # most 100 an hour), past which only addresses that logged in to that account before may still try.
        "LOGIN_ADDRESS_MAX_FAILURES": int(env.get("FIELDSERVICE_LOGIN_ADDRESS_MAX_FAILURES", "20")),
        "LOGIN_ADDRESS_WINDOW": timedelta(minutes=15),
        "LOGIN_ACCOUNT_MAX_FAILURES": int(env.get("FIELDSERVICE_LOGIN_ACCOUNT_MAX_FAILURES", "100")),
        "LOGIN_ACCOUNT_WINDOW": timedelta(hours=1),
        "LOGIN_KNOWN_ADDRESS_DAYS": 90,
        # A visit whose hours worked exceed its repair items' standard hours times this is flagged for verification.
        "SETTLEMENT_OVERRUN_FACTOR": env.get("SETTLEMENT_OVERRUN_FACTOR", "1.5"),
        "BABEL_DEFAULT_LOCALE": "zh_Hans",
        "BABEL_DEFAULT_TIMEZONE": env.get("FIELDSERVICE_TIMEZONE", "Asia/Shanghai"),
        "LANGUAGES": ["zh_Hans", "en"],
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Cookies travel over HTTPS only in production (a development server speaks plain HTTP).
        "SESSION_COOKIE_SECURE": not development,
        "REMEMBER_COOKIE_SECURE": not development,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # "Keep me logged in" lasts this long at most (the login it carries ends then too).
        "REMEMBER_COOKIE_DURATION": timedelta(days=min(30, int(env.get("FIELDSERVICE_REMEMBER_DAYS", "30")))),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
        "API_TITLE": "fieldservice",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "JSON_SORT_KEYS": False,
        "INLINE_JOBS": not env.get("REDIS_URL"),
        # How often the reconcilers look for derived work that should exist and does not (a report per visit).
        "RECONCILE_SECONDS": int(env.get("FIELDSERVICE_RECONCILE_SECONDS", "300")),
        # How often the analytics rollups take in the requests changed since (the dashboard counts those live).
        "ANALYTICS_ROLLUP_SECONDS": int(env.get("FIELDSERVICE_ANALYTICS_ROLLUP_SECONDS", "60")),
    }
    config.update(overrides or {})
    if "DATABASE_URL" in (overrides or {}):
        config["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(config.pop("DATABASE_URL"))
    if "REDIS_URL" in (overrides or {}):
        config["INLINE_JOBS"] = not config["REDIS_URL"]
    try:
        factor_ok = Decimal(str(config["SETTLEMENT_OVERRUN_FACTOR"])) >= 1
    except InvalidOperation:
        factor_ok = False
    if not factor_ok:
        raise RuntimeError("SETTLEMENT_OVERRUN_FACTOR must be a number of at least 1 (e.g. 1.5).")
    if not config["SECRET_KEY"]:
        raise RuntimeError("SECRET_KEY must be set outside development (FIELDSERVICE_ENV=production).")
    return config


def _normalise_db_url(url: str) -> str:
    # psycopg 3 is the driver; accept the plain postgresql:// URLs people paste.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
