"""What the server remembers of the phones' offline changes: each op_id it saw, and what became of it."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.core.models import utcnow
from fieldservice.extensions import db


class OpStatus:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class AppliedOp(db.Model):
    """One op a phone sent, applied or rejected; keyed by the phone's op_id, so a replay cannot apply twice.

    The row is inserted in the same transaction as the change it records: two identical batches at once
    collide on the primary key and only one of them changes anything.
    """

    __tablename__ = "sync_applied_ops"

    op_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # A plain integer: a rejected op may name a request that does not exist.
    request_id: Mapped[int | None] = mapped_column(index=True)
    type: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    error: Mapped[dict | None] = mapped_column(sa.JSON)
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    client_time: Mapped[datetime | None]
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<AppliedOp {self.op_id} {self.type} request {self.request_id} {self.status}>"


class UploadInProgress(db.Model):
    """A photo or signature the phone sends in chunks: the bytes received so far, under the id the phone made.

    A dropped connection loses at most the chunk in flight: the phone asks for the offset and goes on from there.
    The last chunk turns the bytes into the request's attachment (the same id) and the row goes away.
    """

    __tablename__ = "sync_uploads"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    request_id: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(20))
    content_type: Mapped[str] = mapped_column(sa.String(50))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(sa.LargeBinary, default=b"")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def offset(self) -> int:
        return len(self.data or b"")

    def __repr__(self) -> str:
        return f"<UploadInProgress {self.id} {self.offset}/{self.size}>"
