"""Settings, read from the environment; SQLite and inline jobs by default."""

import os
from datetime import timedelta
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
        # Engineers stay offline for a working day and more; the token must outlive that.
        # Reverse proxies in front of gunicorn whose X-Forwarded-* headers are trusted (0: none, the client's own
        # address counts; the rate limits of the login and of the customer's page key on it).
        "FIELDSERVICE_PROXIES": int(env.get("FIELDSERVICE_PROXIES", "0")),
        "API_TOKEN_MAX_AGE": timedelta(days=int(env.get("FIELDSERVICE_TOKEN_DAYS", "7"))),
        "LOGIN_MAX_FAILURES": int(env.get("FIELDSERVICE_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
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
    }
    config.update(overrides or {})
    if "DATABASE_URL" in (overrides or {}):
        config["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(config.pop("DATABASE_URL"))
    if "REDIS_URL" in (overrides or {}):
        config["INLINE_JOBS"] = not config["REDIS_URL"]
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
