"""Users, log-in, tokens. Operations flush and never commit: the request boundary does."""

import logging
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from fieldservice.auth.models import LoginAttempt, Role, User
from fieldservice.core.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.auth")

MIN_PASSWORD_LENGTH = 8


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="fieldservice-api-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id, "gen": user.token_generation})


def user_from_token(token: str) -> User | None:
    """The active user a bearer token names, or None if it is forged, expired or revoked."""
    max_age = current_app.config["API_TOKEN_MAX_AGE"].total_seconds()
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("uid"))
    if user is None or not user.active or user.token_generation != data.get("gen"):
        return None
    return user


def token_expires_at(token: str) -> datetime:
    _, issued = _serializer().loads(token, return_timestamp=True)
    return issued + current_app.config["API_TOKEN_MAX_AGE"]


def _recent_failures(username: str, now: datetime) -> int:
    window_start = now - current_app.config["LOGIN_FAILURE_WINDOW"]
    last_success = db.session.scalar(
        sa.select(sa.func.max(LoginAttempt.at)).where(LoginAttempt.username == username, LoginAttempt.success)
    )
    since = max(window_start, last_success) if last_success else window_start
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, ~LoginAttempt.success, LoginAttempt.at > since)
    )


def authenticate(username: str, password: str, remote_addr: str | None) -> User:
    """Check a username and password, counting failures; raise 401 or 429. The attempt is recorded either way."""
    username = (username or "").strip()
    now = utcnow()
    if _recent_failures(username, now) >= current_app.config["LOGIN_MAX_FAILURES"]:
        raise TooManyRequests(
            "too_many_attempts", "Too many failed log-ins for this user; wait 15 minutes and try again."
        )
    user = db.session.scalar(sa.select(User).where(User.username == username))
    ok = user is not None and user.active and user.check_password(password or "")
    db.session.add(LoginAttempt(username=username, remote_addr=remote_addr, at=now, success=ok))
    db.session.flush()
    if not ok:
        log.info("failed log-in for %r from %s", username, remote_addr)
        # Commit the failure even though the caller answers 401: the count must survive the rollback.
        db.session.commit()
        raise Unauthorized("bad_credentials", "Wrong username or password, or the account is disabled.")
    log.info("log-in by %s from %s", user.username, remote_addr)
    return user


def _validate_user_fields(username: str | None, role: str | None, password: str | None) -> None:
    fields = {}
    if username is not None and not username.strip():
        fields["username"] = "A username is required."
    if role is not None and role not in set(Role):
        fields["role"] = "Must be one of: " + ", ".join(Role) + "."
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        fields["password"] = f"At least {MIN_PASSWORD_LENGTH} characters."
    if fields:
        raise ValidationFailed("validation_failed", "Some fields are not valid.", fields)


def create_user(
    username: str,
    password: str,
    role: str,
    name: str = "",
    email: str | None = None,
    phone: str | None = None,
) -> User:
    _validate_user_fields(username, role, password)
    username = username.strip()
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise ValidationFailed(
            "username_taken", "That username is taken.", {"username": "That username is taken."}
        )
    user = User(username=username, role=str(role), name=name or username, email=email, phone=phone)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    log.info("user %s created with role %s", username, role)
    return user


def update_user(user: User, version: int, actor: User, **changes) -> User:
    """Change a user's name, role, contact, active flag or password; disabling or a new password revokes tokens."""
    check_version(user, version)
    _validate_user_fields(None, changes.get("role"), changes.get("password") or None)
    if user.id == actor.id and (
        changes.get("active") is False or changes.get("role", user.role) != user.role
    ):
        raise Conflict("cannot_demote_self", "You cannot disable yourself or change your own role.")
    for key in ("name", "email", "phone", "role"):
        if key in changes and changes[key] is not None:
            setattr(user, key, changes[key])
    if "active" in changes and changes["active"] is not None and changes["active"] != user.active:
        user.active = changes["active"]
        user.token_generation += 1
    if changes.get("password"):
        user.set_password(changes["password"])
        user.token_generation += 1
    db.session.flush()
    log.info(
        "user %s updated by %s: %s",
        user.username,
        actor.username,
        sorted(k for k in changes if k != "password"),
    )
    return user
