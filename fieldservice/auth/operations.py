"""Users, log-in, logins (console sessions and API tokens), throttling. Operations flush and never commit: the
request boundary does (the throttle's counters and a failed attempt excepted: they must outlive the 401)."""

import functools
import hashlib
import logging
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from fieldservice.auth.models import LoginAttempt, Role, SessionKind, User, UserSession
from fieldservice.core import ratelimit
from fieldservice.core.errors import (
    Conflict,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
    is_unique_violation,
)
from fieldservice.core.models import check_version, utcnow
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.auth")

MIN_PASSWORD_LENGTH = 8
# How long an ended or expired login stays listed in user_sessions (for the record) before a new log-in drops it.
ENDED_LOGINS_KEPT = timedelta(days=30)


# ---------------------------------------------------------------- logins (console sessions and API tokens)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(
    user: User,
    kind: str,
    user_agent: str | None = None,
    remote_addr: str | None = None,
    lifetime: timedelta | None = None,
) -> UserSession:
    """Record a new login of *user* and set user.login_key to its key (the only copy: the row keeps its hash).
    The user's logins that ended or expired more than ENDED_LOGINS_KEPT ago are dropped meanwhile."""
    if lifetime is None:
        lifetime = current_app.config[
            "API_TOKEN_ABSOLUTE_MAX_AGE" if kind == SessionKind.API else "CONSOLE_SESSION_MAX_AGE"
        ]
    key = secrets.token_urlsafe(32)
    now = utcnow()
    login = UserSession(
        user=user,
        kind=str(kind),
        key_hash=_key_hash(key),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        user_agent=(user_agent or "")[:300],
        remote_addr=remote_addr,
    )
    db.session.add(login)
    forgotten = now - ENDED_LOGINS_KEPT
    db.session.execute(
        sa.delete(UserSession).where(
            UserSession.user_id == user.id,
            sa.or_(UserSession.revoked_at < forgotten, UserSession.expires_at < forgotten),
        ),
        execution_options={"synchronize_session": False},
    )
    db.session.flush()
    user.login_key = key
    log.info("%s login %s started for %s from %s", kind, login.id, user.username, remote_addr)
    return login


def session_for_key(key: str | None, kind: str) -> UserSession | None:
    """The live login of *kind* whose key this is (its user active), or None: unknown, ended, expired."""
    if not key:
        return None
    login = db.session.scalar(
        sa.select(UserSession)
        .options(joinedload(UserSession.user))
        .where(UserSession.key_hash == _key_hash(key), UserSession.kind == str(kind))
    )
    if login is None or login.revoked_at is not None or login.expires_at <= utcnow() or not login.user.active:
        return None
    _touch(login)
    return login


def _touch(login: UserSession) -> None:
    """Note that *login* is in use, at most once per SESSION_TOUCH_INTERVAL: not a write on every request."""
    now = utcnow()
    if now - login.last_seen_at < current_app.config["SESSION_TOUCH_INTERVAL"]:
        return
    # Its own short transaction: a GET commits nothing, and the request's own transaction stays read-only.
    with db.engine.begin() as conn:
        conn.execute(sa.update(UserSession).where(UserSession.id == login.id).values(last_seen_at=now))
    set_committed_value(login, "last_seen_at", now)


def live_sessions(user: User) -> list[UserSession]:
    """The user's logins that still work, newest first."""
    return db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None), UserSession.expires_at > utcnow())
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).all()


def end_session(login: UserSession, actor: User) -> None:
    """End one login: its cookies and tokens stop working at once."""
    if login.revoked_at is None:
        login.revoked_at = utcnow()
        db.session.flush()
        log.info("login %s of user %s ended by %s", login.id, login.user_id, actor.username)


def end_own_session(user: User, session_id: int) -> UserSession:
    """End one of *user*'s own live logins by its id; 404 for another's, an unknown or an ended one."""
    login = db.session.get(UserSession, session_id)
    if login is None or login.user_id != user.id or login.revoked_at is not None or login.expires_at <= utcnow():
        raise NotFound("not_found", f"No login of yours with id {session_id}.")
    end_session(login, user)
    return login


def end_all_sessions(user: User, actor: User, keep: UserSession | None = None) -> int:
    """End every live login of *user* (but *keep*): after a new password, a new role, disabling, or on request."""
    query = sa.update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None), UserSession.expires_at > utcnow()
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    ended = db.session.execute(query.values(revoked_at=utcnow()), execution_options={"synchronize_session": "fetch"})
    log.info("%s logins of user %s ended by %s", ended.rowcount, user.username, actor.username)
    return ended.rowcount


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="fieldservice-api-token")


def issue_token(user: User, user_agent: str | None = None, remote_addr: str | None = None) -> str:
    """Start an API login for *user* and return its bearer token (the caller's commit makes it usable)."""
    start_session(user, SessionKind.API, user_agent, remote_addr)
    return _serializer().dumps({"uid": user.id, "gen": user.token_generation, "key": user.login_key})


def session_for_token(token: str) -> UserSession | None:
    """The live API login a bearer token carries, or None if it is forged, expired, ended or revoked."""
    max_age = current_app.config["API_TOKEN_MAX_AGE"].total_seconds()
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        return None
    login = session_for_key(data["key"], SessionKind.API)
    if login is None or login.user_id != data.get("uid") or login.user.token_generation != data.get("gen"):
        return None
    return login


def renew_token(token: str) -> str:
    """A fresh token for the login *token* carries: its lifetime starts again, but never past the login's
    absolute expiry (API_TOKEN_ABSOLUTE_MAX_AGE after the log-in)."""
    login = session_for_token(token)
    if login is None:
        raise Unauthorized("not_logged_in", "Log in first: send a valid bearer token.")
    data = _serializer().loads(token)
    return _serializer().dumps(data)


def token_expires_at(token: str) -> datetime:
    """When *token* stops working: its own lifetime, or its login's absolute expiry if that comes first."""
    data, issued = _serializer().loads(token, return_timestamp=True)
    expires = issued + current_app.config["API_TOKEN_MAX_AGE"]
    login = db.session.scalar(sa.select(UserSession).where(UserSession.key_hash == _key_hash(data["key"])))
    return min(expires, login.expires_at) if login is not None else expires


# ---------------------------------------------------------------- log-in and its throttle


@functools.cache
def _dummy_hash() -> str:
    # Hashed like a real password (the same method and cost), once per process.
    return generate_password_hash(secrets.token_urlsafe(16))


def _password_matches(user: User | None, password: str) -> bool:
    """Check *password*; an unknown username is checked against a dummy hash, so it answers in the same time."""
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


def _known_address(username: str, remote_addr: str | None) -> bool:
    """Whether *username* logged in from *remote_addr* before (within LOGIN_KNOWN_ADDRESS_DAYS)."""
    since = utcnow() - timedelta(days=current_app.config["LOGIN_KNOWN_ADDRESS_DAYS"])
    return bool(
        db.session.scalar(
            sa.select(LoginAttempt.id)
            .where(
                LoginAttempt.username == username,
                LoginAttempt.remote_addr == remote_addr,
                LoginAttempt.success,
                LoginAttempt.at > since,
            )
            .limit(1)
        )
    )


class _Slot:
    """One attempt's place in a throttle's count: taken before the password is checked (so concurrent attempts
    cannot overshoot the limit), given back when the attempt succeeds or is refused unchecked."""

    def __init__(self, key: str, window: timedelta):
        self.key, self.seconds = key, int(window.total_seconds())
        self.window = ratelimit.window_start(self.seconds)
        self.count = ratelimit.add(self.key, self.seconds, window=self.window)

    def give_back(self) -> None:
        ratelimit.add(self.key, self.seconds, -1, window=self.window)

    def retry_after(self) -> int:
        return ratelimit.seconds_left(self.window, self.seconds)


def authenticate(username: str, password: str, remote_addr: str | None) -> User:
    """Check a username and password under the log-in throttle (README "Security"); raise 401 or 429.

    A client address gets LOGIN_ADDRESS_MAX_FAILURES failures per window, then 429 whatever it sends. An account
    gets LOGIN_ACCOUNT_MAX_FAILURES failures an hour from all addresses; past that, only addresses it logged in
    from before may still try, so a stranger guessing cannot lock its owner out. Every attempt is recorded."""
    config = current_app.config
    username = (username or "").strip()
    address = _Slot(f"login:addr:{remote_addr or '-'}", config["LOGIN_ADDRESS_WINDOW"])
    if address.count > config["LOGIN_ADDRESS_MAX_FAILURES"]:
        address.give_back()
        log.warning("log-in refused: too many failures from %s", remote_addr)
        raise TooManyRequests(
            "too_many_attempts",
            "Too many failed log-ins from your address; wait and try again.",
            retry_after=address.retry_after(),
        )
    account = _Slot(f"login:user:{username}", config["LOGIN_ACCOUNT_WINDOW"])
    if account.count > config["LOGIN_ACCOUNT_MAX_FAILURES"] and not _known_address(username, remote_addr):
        account.give_back()
        address.give_back()
        log.warning("log-in for %r refused from %s: account over its failure budget", username, remote_addr)
        raise TooManyRequests(
            "account_throttled",
            "Too many failed log-ins for this user; log in from where you logged in before, or wait and try again.",
            retry_after=account.retry_after(),
        )
    given_back = False
    try:
        user = db.session.scalar(sa.select(User).where(User.username == username))
        ok = _password_matches(user, password or "") and user.active
        if ok:
            # Before this request writes anything: the counts have their own transaction, which on SQLite (the
            # demo's database) would wait for ours to end and fail.
            account.give_back()
            address.give_back()
            given_back = True
        db.session.add(LoginAttempt(username=username, remote_addr=remote_addr, at=utcnow(), success=ok))
        db.session.flush()
        if not ok:
            # Commit the failure even though the caller answers 401: the record must survive the rollback.
            db.session.commit()
    except Exception:
        # Our own trouble (the database away, say) is no failed guess: it must not count against anyone.
        if not given_back:
            account.give_back()
            address.give_back()
        raise
    if not ok:
        log.info("failed log-in for %r from %s", username, remote_addr)
        raise Unauthorized("bad_credentials", "Wrong username or password, or the account is disabled.")
    log.info("log-in by %s from %s", user.username, remote_addr)
    return user


# ---------------------------------------------------------------- users


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
        raise ValidationFailed("username_taken", "That username is taken.", {"username": "That username is taken."})
    user = User(username=username, role=str(role), name=name or username, email=email, phone=phone)
    user.set_password(password)
    db.session.add(user)
    try:
        # Another process may create the same username between the look above and this insert: its unique index
        # refuses the second, which gets the same answer as the look would have given.
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise ValidationFailed(
            "username_taken", "That username is taken.", {"username": "That username is taken."}
        ) from exc
    log.info("user %s created with role %s", username, role)
    return user


def update_user(user: User, version: int, actor: User, **changes) -> User:
    """Change a user's name, role, contact, active flag or password. A new password, a new role or disabling
    ends every login of the user (console sessions, remember cookies, API tokens)."""
    check_version(user, version)
    _validate_user_fields(None, changes.get("role"), changes.get("password") or None)
    if user.id == actor.id and (changes.get("active") is False or changes.get("role", user.role) != user.role):
        raise Conflict("cannot_demote_self", "You cannot disable yourself or change your own role.")
    ends_logins = False
    if changes.get("role") is not None and changes["role"] != user.role:
        ends_logins = True
    for key in ("name", "email", "phone", "role"):
        if key in changes and changes[key] is not None:
            setattr(user, key, changes[key])
    if "active" in changes and changes["active"] is not None and changes["active"] != user.active:
        user.active = changes["active"]
        ends_logins = ends_logins or not user.active
    if changes.get("password"):
        user.set_password(changes["password"])
        ends_logins = True
    if ends_logins:
        user.token_generation += 1
        end_all_sessions(user, actor)
    db.session.flush()
    log.info(
        "user %s updated by %s: %s",
        user.username,
        actor.username,
        sorted(k for k in changes if k != "password"),
    )
    return user
