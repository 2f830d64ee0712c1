"""The console's home and the health check."""

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text

from fieldservice.auth.permissions import CONSOLE, require
from fieldservice.core.navigation import home_cards_for, menu_for
from fieldservice.extensions import db

bp = Blueprint(
    "core", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("core.home"))


@bp.route("/home")
@require(CONSOLE)
def home():
    return render_template("core/home.html", menu=menu_for(current_user), cards=home_cards_for(current_user))


@bp.route("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


@bp.app_context_processor
def _inject_menu():
    return {"nav_menu": menu_for(current_user) if current_user and current_user.is_authenticated else []}
