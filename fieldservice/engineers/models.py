"""Field engineers: a profile beside the login, skills (product categories), zone, hours, leave, a job cap."""

from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.auth.models import User
from fieldservice.core.models import TimestampMixin, VersionMixin
from fieldservice.extensions import db


class Engineer(TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "engineers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    zone: Mapped[str | None] = mapped_column(sa.String(60), index=True)
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    max_open_jobs: Mapped[int] = mapped_column(default=5)
    # Working hours in the site's time zone, and ISO weekdays worked (1 = Monday).
    work_start: Mapped[time] = mapped_column(default=time(8, 30))
    work_end: Mapped[time] = mapped_column(default=time(17, 30))
    work_days: Mapped[str] = mapped_column(sa.String(20), default="1,2,3,4,5")
    active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship()
    skills: Mapped[list["EngineerSkill"]] = relationship(
        back_populates="engineer", cascade="all, delete-orphan", order_by="EngineerSkill.category"
    )
    leaves: Mapped[list["EngineerLeave"]] = relationship(
        back_populates="engineer", cascade="all, delete-orphan", order_by="EngineerLeave.starts_at"
    )

    def __repr__(self) -> str:
        return f"<Engineer {self.id} {self.name}>"

    @property
    def skill_categories(self) -> list[str]:
        return [s.category for s in self.skills]

    @property
    def weekdays(self) -> set[int]:
        return {int(d) for d in self.work_days.split(",") if d.strip()}


class EngineerSkill(db.Model):
    __tablename__ = "engineer_skills"
    __table_args__ = (
        sa.UniqueConstraint("engineer_id", "category", name="uq_engineer_skills_engineer_category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("engineers.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(sa.String(80), index=True)

    engineer: Mapped[Engineer] = relationship(back_populates="skills")

    def __repr__(self) -> str:
        return f"<EngineerSkill {self.engineer_id} {self.category}>"


class EngineerLeave(TimestampMixin, db.Model):
    __tablename__ = "engineer_leaves"

    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("engineers.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(sa.String(200))

    engineer: Mapped[Engineer] = relationship(back_populates="leaves")

    def __repr__(self) -> str:
        return f"<EngineerLeave {self.engineer_id} {self.starts_at}..{self.ends_at}>"
