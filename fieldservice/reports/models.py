"""E-service reports, the customer's link token, and the customer's ratings."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import utcnow
from fieldservice.extensions import db


class CustomerLink(db.Model):
    """One issued customer link of a request (the token behind its QR code): scoped to that one request.

    Only the token's SHA-256 is stored. The token itself is an HMAC of (SECRET_KEY, request id, serial)
    (reports.operations.derive_token), so the app can show a request's current link again (the console, the PDF,
    the QR image, a message) without keeping it: whoever reads the database still cannot open a customer's page.
    Revoking marks the request's links revoked; the next link shown is the next serial. Serial 0 marks a random
    token issued before links were derived: it stays valid (by its hash) until revoked or expired, but cannot be
    shown again."""

    __tablename__ = "customer_links"
    # Its first column serves the lookups by request too.
    __table_args__ = (sa.UniqueConstraint("request_id", "serial", name="uq_customer_links_request_serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"))
    serial: Mapped[int] = mapped_column(default=1)
    # Looked up by the token's SHA-256: the index never compares secret prefixes, and a stolen row opens nothing.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    request = relationship("ServiceRequest")

    def __repr__(self) -> str:
        return f"<CustomerLink request {self.request_id} #{self.serial}>"


class ServiceReport(db.Model):
    """The report of one finished visit: a snapshot of what it found, did, used and charged, and its PDF."""

    __tablename__ = "service_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"), unique=True)
    # The report's content as data (rendered by the page and the PDF alike) and its hash: rebuilding from
    # unchanged data is a no-op, so the job may run any number of times.
    content: Mapped[dict] = mapped_column(sa.JSON)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    revision: Mapped[int] = mapped_column(default=1)
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    pdf_size: Mapped[int] = mapped_column(default=0)
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)

    visit = relationship("Visit")

    def __repr__(self) -> str:
        return f"<ServiceReport {self.id} visit {self.visit_id} rev {self.revision}>"


class CustomerRating(db.Model):
    """The customer's rating of a visit from the QR page: once per visit."""

    __tablename__ = "customer_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"), unique=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<CustomerRating visit {self.visit_id} {self.score}>"
