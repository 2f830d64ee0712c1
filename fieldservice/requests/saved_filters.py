"""Saved filters of the request list: a user's named query strings, kept per user."""

import logging
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.core.models import TimestampMixin
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.requests")

# The list's filter parameters; anything else (the page number, stray keys) is not part of a saved filter.
FILTER_KEYS = ("status", "priority", "zone", "engineer_id", "overdue", "q", "sort")
MAX_FILTERS_PER_USER = 30


class SavedFilter(TimestampMixin, db.Model):
    __tablename__ = "request_saved_filters"
    __table_args__ = (sa.UniqueConstraint("user_id", "name", name="uq_request_saved_filters_user_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    query: Mapped[str] = mapped_column(sa.String(1000), default="")

    def __repr__(self) -> str:
        return f"<SavedFilter {self.id} {self.name!r} of user {self.user_id}>"


def clean_query(pairs) -> str:
    """Keep only the list's filter parameters, non-empty, in a stable order."""
    kept = [(k, v.strip()) for k, v in pairs if k in FILTER_KEYS and v and v.strip()]
    kept.sort(key=lambda kv: (FILTER_KEYS.index(kv[0]), kv[1]))
    return urlencode(kept)


def filters_for(user) -> list[SavedFilter]:
    return list(
        db.session.scalars(
            sa.select(SavedFilter).where(SavedFilter.user_id == user.id).order_by(SavedFilter.name)
        )
    )


def save_filter(user, name: str, query: str) -> SavedFilter:
    """Save *query* under *name* for *user*; saving an existing name replaces its query."""
    name = (name or "").strip()
    query = clean_query(parse_qsl(query or "", keep_blank_values=False))
    fields = {}
    if not name:
        fields["name"] = "Give the filter a name."
    elif len(name) > 80:
        fields["name"] = "At most 80 characters."
    if not query:
        fields["query"] = "Choose at least one filter before saving."
    if fields:
        raise ValidationFailed("validation_failed", "Some fields are not valid.", fields)
    existing = db.session.scalar(
        sa.select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.name == name)
    )
    if existing is None:
        count = db.session.scalar(sa.select(sa.func.count()).where(SavedFilter.user_id == user.id))
        if count >= MAX_FILTERS_PER_USER:
            raise ValidationFailed(
                "too_many_filters",
                "You have too many saved filters; delete one first.",
                {"name": "You have too many saved filters; delete one first."},
            )
        existing = SavedFilter(user_id=user.id, name=name)
        db.session.add(existing)
    existing.query = query
    db.session.flush()
    log.info("saved filter %s %r (%s) saved by %s", existing.id, name, query, user.username)
    return existing


def delete_filter(user, filter_id: int) -> None:
    saved = db.session.get(SavedFilter, filter_id)
    # Another user's filter is as absent as a missing one: ids reveal nothing.
    if saved is None or saved.user_id != user.id:
        raise NotFound("not_found", "No such saved filter.")
    db.session.delete(saved)
    db.session.flush()
    log.info("saved filter %s %r deleted by %s", filter_id, saved.name, user.username)
