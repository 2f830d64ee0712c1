"""The start page's redirect, the shared static files and the health check."""

import logging

from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fieldservice.core.jobs import redis_connection
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.core")

bp = Blueprint(
    "core", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("console.home"))


@bp.route("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on every page whatever the page links: a 404 each time otherwise.
    return bp.send_static_file("favicon.ico")


@bp.route("/healthz")
def healthz():
    """Each dependency's state: 503 when the database is down; Redis down only degrades (jobs then run inline)."""
    checks = {"database": _database_state(), "redis": _redis_state()}
    if checks["database"] != "ok":
        return jsonify(status="unavailable", **checks), 503
    return jsonify(status="ok" if checks["redis"] in ("ok", "not configured") else "degraded", **checks)


def _database_state() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("health check: the database is down: %s", exc)
        return "down"
    return "ok"


def _redis_state() -> str:
    if not current_app.config.get("REDIS_URL"):
        return "not configured"
    try:
        redis_connection().ping()
    except RedisError as exc:
        log.warning("health check: Redis is down: %s", exc)
        return "down"
    return "ok"
