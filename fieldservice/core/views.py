"""The start page's redirect, the shared static files and the health check."""

from flask import Blueprint, jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from fieldservice.extensions import db

bp = Blueprint(
    "core", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("console.home"))


@bp.route("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
