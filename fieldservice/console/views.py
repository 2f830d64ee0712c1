"""The console's home page and the menu every page shows."""

from flask import Blueprint, render_template
from flask_login import current_user

from fieldservice.auth.permissions import CONSOLE, require
from fieldservice.console.navigation import home_cards_for, menu_for

bp = Blueprint("console", __name__, template_folder="templates")


@bp.route("/home")
@require(CONSOLE)
def home():
    return render_template("console/home.html", menu=menu_for(current_user), cards=home_cards_for(current_user))


@bp.app_context_processor
def _inject_menu():
    return {"nav_menu": menu_for(current_user) if current_user and current_user.is_authenticated else []}
