"""The dashboard's filters (date range, zone, product category) and the SQL they add to a query."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from fieldservice.customers.models import Customer
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None  # inclusive: the whole day counts
    zone: str | None = None
    category: str | None = None

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.since, time(), UTC) if self.since else None

    @property
    def end(self) -> datetime | None:
        return datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None

    def as_dict(self) -> dict:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "zone": self.zone,
            "category": self.category,
        }


def scope_requests(query: sa.Select, f: Filters, at=ServiceRequest.created_at) -> sa.Select:
    """Restrict *query* (which reads service_requests) to the requests the filters select; *at* is the time
    column
    the date range applies to (intake by default)."""
    if f.start is not None:
        query = query.where(at >= f.start)
    if f.end is not None:
        query = query.where(at < f.end)
    if f.category:
        query = query.where(ServiceRequest.service_category == f.category)
    if f.zone:
        query = query.where(
            ServiceRequest.customer_id.in_(sa.select(Customer.id).where(Customer.zone == f.zone).scalar_subquery())
        )
    return query


def scoped_request_ids(f: Filters, at=ServiceRequest.created_at) -> sa.Select:
    """The ids of the requests the zone and category filters select (dates apply to the caller's own
    column)."""
    return scope_requests(sa.select(ServiceRequest.id), Filters(zone=f.zone, category=f.category), at)


def seconds_between(later, earlier):
    """SQL for (later - earlier) in seconds, on PostgreSQL and SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
