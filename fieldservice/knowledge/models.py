"""The fault knowledge base (服务知识库): symptom -> causes -> solutions; revisions, term index, proposals."""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.auth.models import User
from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.customers.models import Product
from fieldservice.extensions import db


class KnowledgeEntry(TimestampMixin, VersionMixin, db.Model):
    """One symptom of a product (or of a whole category) with its causes and their solutions."""

    __tablename__ = "knowledge_entries"
    __table_args__ = (sa.Index("ix_knowledge_entries_status_category", "status", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null: the entry holds for every product of `category`.
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(80))
    symptom: Mapped[str] = mapped_column(sa.String(300))
    fault_code: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    # Counted from visits that cite the entry; written with atomic UPDATEs that leave `version` alone.
    uses: Mapped[int] = mapped_column(default=0)
    successes: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    product: Mapped[Product | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    causes: Mapped[list["KnowledgeCause"]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="KnowledgeCause.position"
    )

    def __repr__(self) -> str:
        return f"<KnowledgeEntry {self.id} {self.fault_code or '-'} {self.symptom[:20]}>"

    @property
    def success_rate(self) -> float:
        """Laplace-smoothed: an entry never used counts as 50 %, not 0 % or 100 %."""
        return (self.successes + 1) / (self.uses + 2)


class KnowledgeCause(db.Model):
    __tablename__ = "knowledge_causes"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("knowledge_entries.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(sa.Text)

    entry: Mapped[KnowledgeEntry] = relationship(back_populates="causes")
    solutions: Mapped[list["KnowledgeSolution"]] = relationship(
        back_populates="cause", cascade="all, delete-orphan", order_by="KnowledgeSolution.position"
    )

    def __repr__(self) -> str:
        return f"<KnowledgeCause {self.id} of entry {self.entry_id}>"


class KnowledgeSolution(db.Model):
    __tablename__ = "knowledge_solutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cause_id: Mapped[int] = mapped_column(
        sa.ForeignKey("knowledge_causes.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str] = mapped_column(sa.String(300))
    steps: Mapped[list] = mapped_column(sa.JSON, default=list)
    # Free-text part numbers until the parts catalog is linked.
    parts: Mapped[str | None] = mapped_column(sa.String(500))
    estimated_hours: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    uses: Mapped[int] = mapped_column(default=0)
    successes: Mapped[int] = mapped_column(default=0)

    cause: Mapped[KnowledgeCause] = relationship(back_populates="solutions")

    def __repr__(self) -> str:
        return f"<KnowledgeSolution {self.id} {self.summary[:20]}>"

    @property
    def success_rate(self) -> float:
        return (self.successes + 1) / (self.uses + 2)


class EntryRevision(db.Model):
    """The full content of one saved version of an entry: who saved it and when."""

    __tablename__ = "knowledge_entry_revisions"
    __table_args__ = (
        sa.UniqueConstraint("entry_id", "version", name="uq_knowledge_entry_revisions_entry_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("knowledge_entries.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    content: Mapped[dict] = mapped_column(sa.JSON)
    saved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(sa.String(300))

    saved_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<EntryRevision entry {self.entry_id} v{self.version}>"


class KnowledgeTerm(db.Model):
    """The search index: one row per (entry, field, term), maintained on every save of the entry.

    CJK text has no spaces, so terms are character bigrams (and unigrams in short fields); Latin text gives
    lower-cased, lightly stemmed words. The same table serves SQLite and PostgreSQL.
    """

    __tablename__ = "knowledge_terms"
    # Covering: a search reads every column it needs off this index, never the table.
    __table_args__ = (sa.Index("ix_knowledge_terms_term_entry", "term", "entry_id", "field", "weight"),)

    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("knowledge_entries.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    term: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # How often the term occurs in the field (the "tf" of BM25); field weights are applied at query time.
    weight: Mapped[float] = mapped_column(default=1.0)

    def __repr__(self) -> str:
        return f"<KnowledgeTerm {self.entry_id} {self.field} {self.term!r}>"


class KnowledgeProposal(TimestampMixin, VersionMixin, db.Model):
    """An engineer's new cause/solution from a resolved visit, waiting for a manager's review."""

    __tablename__ = "knowledge_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Plain id: the requests domain owns that table.
    request_id: Mapped[int | None] = mapped_column(index=True)
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"))
    category: Mapped[str] = mapped_column(sa.String(80))
    symptom: Mapped[str] = mapped_column(sa.String(300))
    fault_code: Mapped[str | None] = mapped_column(sa.String(40))
    cause: Mapped[str] = mapped_column(sa.Text)
    solution: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", index=True)
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(sa.String(500))
    entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("knowledge_entries.id"))

    product: Mapped[Product | None] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    entry: Mapped[KnowledgeEntry | None] = relationship()

    def __repr__(self) -> str:
        return f"<KnowledgeProposal {self.id} {self.status} {self.symptom[:20]}>"


# The name other domains import (reports shows the cited entry's symptom on the service report).
Entry = KnowledgeEntry
