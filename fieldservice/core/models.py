"""The declarative base, UTC timestamps and the optimistic-locking version column."""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, registry


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """Store naive UTC, hand back aware UTC, on PostgreSQL and SQLite alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    registry = registry(
        type_annotation_map={
            datetime: UTCDateTime(),
            Decimal: sa.Numeric(12, 2),
            str: sa.String(255),
        },
        # Constraint names that Alembic can rely on, the same on every database.
        metadata=sa.MetaData(
            naming_convention={
                "ix": "ix_%(column_0_label)s",
                "uq": "uq_%(table_name)s_%(column_0_name)s",
                "ck": "ck_%(table_name)s_%(constraint_name)s",
                "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                "pk": "pk_%(table_name)s",
            }
        ),
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionMixin:
    """An integer `version`, bumped on every UPDATE; a concurrent UPDATE of an older version fails."""

    version: Mapped[int] = mapped_column(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


def check_version(obj: VersionMixin, sent_version: int | None) -> None:
    """Refuse a write whose client read an older version of *obj* (API.md: 409, nothing changed)."""
    from fieldservice.core.errors import Conflict

    if sent_version is None:
        return
    if sent_version != obj.version:
        raise Conflict(
            "stale_version",
            f"This record was changed by someone else (now version {obj.version}, you sent {sent_version}).",
            current_version=obj.version,
        )


def get_or_404(model, object_id: int, what: str | None = None, message: str | None = None):
    """The row of *model* with this id, or API.md's 404 ("No <what> with id N." unless *message* says better)."""
    from fieldservice.core.errors import NotFound
    from fieldservice.extensions import db

    obj = db.session.get(model, object_id)
    if obj is None:
        what = what or model.__tablename__.removesuffix("s").replace("_", " ")
        raise NotFound("not_found", message or f"No {what} with id {object_id}.")
    return obj
