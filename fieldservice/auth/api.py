"""Tokens and users over JSON."""

import sqlalchemy as sa
from flask import g, request
from flask_login import current_user

from fieldservice.auth import operations
from fieldservice.auth.models import User
from fieldservice.auth.permissions import CONSOLE, USERS_MANAGE, check, require
from fieldservice.auth.schemas import (
    EndedSchema,
    LoginSessionListSchema,
    TokenArgs,
    TokenSchema,
    UserCreateArgs,
    UserSchema,
    UserUpdateArgs,
)
from fieldservice.core.api import PageArgs, api_blueprint, page_of
from fieldservice.core.errors import NotFound
from fieldservice.extensions import db

blp = api_blueprint("auth_api", __name__, "Log-in tokens and users")


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(TokenArgs)
@blp.response(200, TokenSchema)
def create_token(args):
    """Exchange a username and password for a bearer token."""
    user = operations.authenticate(args["username"], args["password"], request.remote_addr)
    token = operations.issue_token(user, request.user_agent.string, request.remote_addr)
    db.session.commit()
    return {"token": token, "user": user, "expires_at": operations.token_expires_at(token)}


@blp.route("/auth/me")
@blp.response(200, UserSchema)
def me():
    """The user the token belongs to."""
    check(CONSOLE)
    return current_user


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
def logout():
    """End the login this token belongs to: the token (and any renewal of it) stops working."""
    check(CONSOLE)
    operations.end_session(g.login_session, current_user)
    db.session.commit()


@blp.route("/auth/sessions")
@blp.response(200, LoginSessionListSchema)
def list_sessions():
    """The caller's live logins: console sessions and API tokens, the current one marked."""
    check(CONSOLE)
    items = [_session_view(login) for login in operations.live_sessions(current_user)]
    return {"items": items, "total": len(items)}


@blp.route("/auth/sessions/<int:session_id>", methods=["DELETE"])
@blp.response(204)
def end_session(session_id):
    """End one of the caller's logins (another device's session or token, or this one)."""
    check(CONSOLE)
    operations.end_own_session(current_user, session_id)
    db.session.commit()


@blp.route("/auth/sessions/end-others", methods=["POST"])
@blp.response(200, EndedSchema)
def end_other_sessions():
    """End all the caller's logins but the current one."""
    check(CONSOLE)
    ended = operations.end_all_sessions(current_user, current_user, keep=g.login_session)
    db.session.commit()
    return {"ended": ended}


def _session_view(login) -> dict:
    """A login as the sessions list shows it, `current` marking the request's own."""
    current = g.get("login_session")
    return {
        "id": login.id,
        "kind": login.kind,
        "created_at": login.created_at,
        "last_seen_at": login.last_seen_at,
        "expires_at": login.expires_at,
        "user_agent": login.user_agent,
        "remote_addr": login.remote_addr,
        "current": current is not None and current.id == login.id,
    }


@blp.route("/users")
@require(USERS_MANAGE)
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def list_users(args):
    return page_of(sa.select(User).order_by(User.username), UserSchema(), args["page"], args["per_page"])


@blp.route("/users", methods=["POST"])
@require(USERS_MANAGE)
@blp.arguments(UserCreateArgs)
@blp.response(201, UserSchema)
def create_user(args):
    user = operations.create_user(**args)
    db.session.commit()
    return user


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@require(USERS_MANAGE)
@blp.arguments(UserUpdateArgs)
@blp.response(200, UserSchema)
def update_user(args, user_id):
    user = db.session.get(User, user_id) or _not_found()
    version = args.pop("version")
    operations.update_user(user, version, current_user, **args)
    db.session.commit()
    return user


def _not_found():
    raise NotFound("not_found", "No such user.")
