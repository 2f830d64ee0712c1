"""Console log-in, language switch and user administration."""

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from fieldservice.auth import operations
from fieldservice.auth.forms import ROLE_LABELS, LoginForm, UserForm
from fieldservice.auth.models import SessionKind, User
from fieldservice.auth.permissions import CONSOLE, USERS_MANAGE, require
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.search import contains_text
from fieldservice.extensions import db

bp = Blueprint("auth", __name__, template_folder="templates")


def _safe_next(target: str | None) -> str:
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("console.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("console.home"))
    form = LoginForm(next=request.args.get("next", ""))
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            user = operations.authenticate(form.username.data, form.password.data, request.remote_addr)
        except ApiError as exc:
            db.session.rollback()
            form.password.errors.append(_(exc.message))
            status = exc.status
            if getattr(exc, "retry_after", None):
                headers["Retry-After"] = str(exc.retry_after)
        else:
            remember = bool(form.remember.data)
            lifetime = current_app.config["REMEMBER_COOKIE_DURATION"] if remember else None
            operations.start_session(
                user, SessionKind.CONSOLE, request.user_agent.string, request.remote_addr, lifetime
            )
            login_user(user, remember=remember)
            if user.locale:
                session["lang"] = user.locale
            db.session.commit()
            return redirect(_safe_next(form.next.data))
    if form.errors and status == 200:
        status = 401
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    # Ends this login on the server too: a copy of its session or remember cookie no longer logs anyone in.
    if current_user.is_authenticated and g.get("login_session") is not None:
        operations.end_session(g.login_session, current_user)
        db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account/sessions")
@require(CONSOLE)
def my_sessions():
    return render_template(
        "auth/sessions.html", logins=operations.live_sessions(current_user), current=g.get("login_session")
    )


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@require(CONSOLE)
def end_session(session_id: int):
    try:
        login = operations.end_own_session(current_user, session_id)
    except ApiError:
        db.session.rollback()
        flash(_("That login had ended already."), "info")
        return redirect(url_for("auth.my_sessions"))
    db.session.commit()
    if login.id == g.login_session.id:
        logout_user()
        return redirect(url_for("auth.login"))
    flash(_("The login was ended."), "success")
    return redirect(url_for("auth.my_sessions"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@require(CONSOLE)
def end_other_sessions():
    ended = operations.end_all_sessions(current_user, current_user, keep=g.login_session)
    db.session.commit()
    flash(_("%(count)s other logins were ended.", count=ended), "success")
    return redirect(url_for("auth.my_sessions"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    from flask import current_app

    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    return redirect(_safe_next(request.form.get("next") or request.referrer))


@bp.route("/admin/users")
@require(USERS_MANAGE)
def users():
    q = request.args.get("q", "").strip()
    query = sa.select(User).order_by(User.role, User.username)
    if q:
        query = query.where(contains_text(q, User.username, User.name))
    return render_template(
        "auth/users.html", users=db.session.scalars(query).all(), q=q, role_labels=ROLE_LABELS
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require(USERS_MANAGE)
def new_user():
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("A password is required for a new user."))
        else:
            try:
                operations.create_user(
                    form.username.data,
                    form.password.data,
                    form.role.data,
                    form.name.data,
                    form.email.data or None,
                    form.phone.data or None,
                )
            except ApiError as exc:
                db.session.rollback()
                status = apply_api_error(form, exc)
            else:
                db.session.commit()
                flash(_("User %(name)s created.", name=form.username.data), "success")
                return redirect(url_for("auth.users"))
    if form.errors and status == 200:
        status = 422
    return render_template("auth/user_form.html", form=form, user=None), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@require(USERS_MANAGE)
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    form.username.render_kw = {"readonly": True}
    if request.method == "GET":
        form.version.data = user.version
    status = 200
    if form.validate_on_submit():
        try:
            operations.update_user(
                user,
                int(form.version.data or 0),
                current_user,
                name=form.name.data,
                email=form.email.data or None,
                phone=form.phone.data or None,
                role=form.role.data,
                active=form.active.data,
                password=form.password.data or None,
            )
        except ApiError as exc:
            db.session.rollback()
            status = apply_api_error(form, exc)
        else:
            db.session.commit()
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for("auth.users"))
    if form.errors and status == 200:
        status = 422
    return render_template("auth/user_form.html", form=form, user=user), status


@bp.app_context_processor
def _inject_roles():
    return {"role_labels": ROLE_LABELS}
