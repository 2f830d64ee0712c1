"""Equipment labels (the token behind a unit's QR sticker), one-time phone codes, label sheets being printed."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import utcnow
from fieldservice.extensions import db


class EquipmentLabel(db.Model):
    """One issued label of a unit. Only the token's SHA-256 is stored; the token is an HMAC of (SECRET_KEY, unit,
    serial) (selfservice.operations.derive_token), so the console can print the same label again without keeping
    it, and nobody derives it from the unit's serial number. Issuing a new label revokes the earlier ones."""

    __tablename__ = "equipment_labels"
    __table_args__ = (sa.UniqueConstraint("equipment_id", "serial", name="uq_equipment_labels_equipment_serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(sa.ForeignKey("equipment.id", ondelete="CASCADE"))
    serial: Mapped[int] = mapped_column(default=1)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    equipment = relationship("Equipment")

    def __repr__(self) -> str:
        return f"<EquipmentLabel unit {self.equipment_id} #{self.serial}>"


class PhoneCode(db.Model):
    """A one-time code sent to a phone from a unit's page: only its hash is kept; it expires and allows few tries."""

    __tablename__ = "selfservice_phone_codes"
    __table_args__ = (sa.Index("ix_selfservice_phone_codes_equipment_phone", "equipment_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(sa.ForeignKey("equipment.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(sa.String(20))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    tries: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<PhoneCode unit {self.equipment_id} tries {self.tries}>"


class LabelSheet(db.Model):
    """A PDF of labels being printed in the background: which units, how far the job is, the result."""

    __tablename__ = "label_sheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_ids: Mapped[list] = mapped_column(sa.JSON)
    # queued -> running -> done | failed
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    pdf_size: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<LabelSheet {self.id} {self.status} {self.done}/{self.total}>"
