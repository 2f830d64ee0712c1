"""Users, roles and login attempts."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.extensions import db


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    DISPATCHER = "dispatcher"
    ENGINEER = "engineer"
    CALLBACK = "callback"


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.MANAGER: _l("Service manager"),
    Role.DISPATCHER: _l("Dispatcher"),
    Role.ENGINEER: _l("Field engineer"),
    Role.CALLBACK: _l("Callback agent"),
}


class User(UserMixin, TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    email: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    role: Mapped[str] = mapped_column(sa.String(20), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped when the user is disabled or changes password: every token issued before stops working.
    token_generation: Mapped[int] = mapped_column(default=1)
    locale: Mapped[str | None] = mapped_column(sa.String(10))

    # The key of the login being started (operations.start_session sets it just before Flask-Login's login_user):
    # Flask-Login keeps get_id() in the session and the remember cookie, so they carry a revocable login, never
    # the bare user id. Not a column.
    login_key = None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username} {self.role}>"

    def get_id(self) -> str:
        if not self.login_key:
            raise RuntimeError("start a UserSession (operations.start_session) before login_user()")
        return self.login_key

    # UserMixin compares users by get_id(), which is a login now: two copies of one user are still one user.
    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        if not isinstance(other, User):
            return NotImplemented
        return self is other or (self.id is not None and self.id == other.id)

    def __ne__(self, other) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


class SessionKind(StrEnum):
    CONSOLE = "console"
    API = "api"


class UserSession(db.Model):
    """One login: a console session (its cookie and remember cookie) or an API token. Ending it (revoked_at) ends
    every cookie and token that carries its key; only the key's SHA-256 is stored."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('console', 'api')", name="kind"),
        sa.Index("ix_user_sessions_user_id_revoked_at", "user_id", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(10))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Absolute: no renewal and no activity carries a login past it.
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"<UserSession {self.id} {self.kind} user={self.user_id} {state}>"


class LoginAttempt(db.Model):
    __tablename__ = "login_attempts"
    __table_args__ = (sa.Index("ix_login_attempts_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    success: Mapped[bool] = mapped_column(default=False)

    def __repr__(self) -> str:
        return f"<LoginAttempt {self.username} {self.at} {'ok' if self.success else 'failed'}>"
