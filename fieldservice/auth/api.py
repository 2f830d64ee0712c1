"""Tokens and users over JSON."""

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from fieldservice.auth import operations
from fieldservice.auth.models import User
from fieldservice.auth.permissions import CONSOLE, USERS_MANAGE, check, require
from fieldservice.auth.schemas import TokenArgs, TokenSchema, UserCreateArgs, UserSchema, UserUpdateArgs
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
    token = operations.issue_token(user)
    db.session.commit()
    return {"token": token, "user": user, "expires_at": operations.token_expires_at(token)}


@blp.route("/auth/me")
@blp.response(200, UserSchema)
def me():
    """The user the token belongs to."""
    check(CONSOLE)
    return current_user


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
