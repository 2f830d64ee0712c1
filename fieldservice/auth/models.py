"""Users, roles and login attempts."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
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

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username} {self.role}>"

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
