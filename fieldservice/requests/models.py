"""The service request, its timeline, visits, attachments, surveys, problem types and intake counters."""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.core.search import doubled_trigram_index, trigram_index
from fieldservice.extensions import db
from fieldservice.requests.states import ACTIVE, OPEN, status_label


class ProblemType(TimestampMixin, VersionMixin, db.Model):
    """The managed list of problem types a request is filed under (counted for analytics)."""

    __tablename__ = "problem_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(80))
    name_en: Mapped[str] = mapped_column(sa.String(80))
    # The kind of work (repair, installation, maintenance, other): groups the list in the intake form.
    category: Mapped[str | None] = mapped_column(sa.String(40))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ProblemType {self.code}>"

    def label(self, locale: str | None = None) -> str:
        return self.name_en if locale == "en" else self.name_zh


# The open states (states.ACTIVE), as the partial index below says them.
_ACTIVE_SQL = "status IN (" + ", ".join(f"'{status}'" for status in sorted(ACTIVE)) + ")"
# The states the console's list opens on (states.OPEN: ACTIVE and suspended).
_OPEN_SQL = "status IN (" + ", ".join(f"'{status}'" for status in sorted(OPEN)) + ")"

# What the breach rules ask of a row besides its due time.
_RESPONSE_UNBREACHED_SQL = _ACTIVE_SQL + " AND responded_at IS NULL AND NOT response_breached"
_RESOLUTION_UNBREACHED_SQL = _ACTIVE_SQL + " AND NOT resolution_breached"


class ServiceRequest(TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "service_requests"
    __table_args__ = (
        # The sweep and the dispatch list: rows of one status ordered or filtered by a due time, read in the list's
        # order (due time, then id) without a sort: a search among the requests awaiting assignment reads its page
        # there (0.4 ms), not through the active requests' index passing over the others (5 ms). (The breach rules
        # read the partial indexes below: the status and response or resolution due indexes they had are gone.)
        sa.Index("ix_service_requests_status_required_by_id", "status", "required_by", "id"),
        sa.Index("ix_service_requests_engineer_id_status", "engineer_id", "status"),
        # An engineer's requests by due time (the list filtered by engineer): read in order, not sorted.
        sa.Index("ix_service_requests_engineer_id_required_by_id", "engineer_id", "required_by", "id"),
        sa.Index("ix_service_requests_status_service_category", "status", "service_category"),
        # The lists across statuses, by due time (the default) and newest first: read in order, not sorted.
        sa.Index("ix_service_requests_required_by_id", "required_by", "id"),
        sa.Index("ix_service_requests_created_at_id", "created_at", "id"),
        # The open requests by due time with what their filters read (the console's list, overdue, the zone and
        # the priority of the open ones): counted from the index alone.
        sa.Index(
            "ix_service_requests_open_required_by",
            "required_by",
            "id",
            postgresql_where=sa.text(_OPEN_SQL),
            sqlite_where=sa.text(_OPEN_SQL),
            postgresql_include=[
                "status",
                "priority",
                "customer_id",
                "engineer_id",
                "response_breached",
                "resolution_breached",
            ],
        ),
        # The breach rules of the sweep (operations._time_rules): the open requests not flagged yet, by due time.
        # Most open requests were flagged long ago; read through the status indexes, the minute's sweep passed
        # over all of them (60 ms at 1,000,000 requests) to find the few due. A row leaves the index as it is
        # flagged.
        sa.Index(
            "ix_service_requests_response_unbreached",
            "response_due",
            "id",
            postgresql_where=sa.text(_RESPONSE_UNBREACHED_SQL),
            sqlite_where=sa.text(_RESPONSE_UNBREACHED_SQL),
        ),
        sa.Index(
            "ix_service_requests_resolution_unbreached",
            "resolution_due",
            "id",
            postgresql_where=sa.text(_RESOLUTION_UNBREACHED_SQL),
            sqlite_where=sa.text(_RESOLUTION_UNBREACHED_SQL),
        ),
        # One priority, by due time or newest first; also every request by priority.
        sa.Index("ix_service_requests_priority_required_by_id", "priority", "required_by", "id"),
        sa.Index("ix_service_requests_priority_created_at_id", "priority", "created_at", "id"),
        sa.Index("ix_service_requests_response_due_id", "response_due", "id"),
        # One status of the customers of a zone (the dispatch list by zone), counted from the index.
        sa.Index("ix_service_requests_status_customer_id", "status", "customer_id"),
        sa.Index("ix_service_requests_customer_id_status", "customer_id", "status"),
        # The search box: the request's number (requests.search; the description's index follows the class).
        trigram_index("ix_service_requests_number_trgm", "number"),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    # Indexed with the status (ix_service_requests_customer_id_status): a customer's requests, and those of some
    # customers in some states (a search's customers among the open requests) read from the index alone.
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"), index=True)
    equipment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("equipment.id"), index=True)
    # The product category the work needs: an engineer claims it with the matching skill.
    service_category: Mapped[str] = mapped_column(sa.String(80))
    # No index: nothing looks requests up by their problem type (analytics groups them, the kept counts count
    # them), and each index costs every change of a request an entry.
    problem_type: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.Text)
    priority: Mapped[int] = mapped_column(default=3)
    channel: Mapped[str] = mapped_column(sa.String(20), default="phone")
    contact_name: Mapped[str | None] = mapped_column(sa.String(120))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    # Where the work is done when not at the customer's address of record (a branch, a site).
    site_address: Mapped[str | None] = mapped_column(sa.String(300))
    # The engineer's free note on the job; the dispatcher reads and edits it too.
    engineer_note: Mapped[str | None] = mapped_column(sa.Text)
    required_by: Mapped[datetime]
    response_due: Mapped[datetime]
    resolution_due: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(24), default="awaiting_assignment")
    engineer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("engineers.id"))
    # When the current engineer was assigned, and when they arrived on site (handled, for rule 4).
    assigned_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    # True once the required-date rules (3a, 4) were applied or can no longer apply: a request the sweep
    # returned
    # to the pool, a manager unlocked, or that someone assigned after its required date must not be swept
    # again.
    deadline_swept: Mapped[bool] = mapped_column(default=False)
    visit_count: Mapped[int] = mapped_column(default=0)
    unsolved_visit_count: Mapped[int] = mapped_column(default=0)
    urged: Mapped[bool] = mapped_column(default=False)
    urge_count: Mapped[int] = mapped_column(default=0)
    last_urged_at: Mapped[datetime | None]
    response_breached: Mapped[bool] = mapped_column(default=False)
    resolution_breached: Mapped[bool] = mapped_column(default=False)
    responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # The agreement that covered the request at intake (contracts adds the foreign key when it lands).
    agreement_id: Mapped[int | None] = mapped_column(index=True)
    coverage: Mapped[str] = mapped_column(sa.String(20), default="none")
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    customer = relationship("Customer")
    product = relationship("Product")
    equipment = relationship("Equipment")
    engineer = relationship("Engineer")
    created_by = relationship("User")
    events: Mapped[list["RequestEvent"]] = relationship(
        back_populates="request",
        order_by="RequestEvent.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    visits: Mapped[list["Visit"]] = relationship(
        back_populates="request", order_by="Visit.id", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<ServiceRequest {self.id} {self.number} {self.status}>"

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


# The search box's description (requests.search): any text of two characters or more, 漏水 included, through one
# trigram index of the description with its characters doubled.
doubled_trigram_index("ix_service_requests_description_doubled_trgm", ServiceRequest.description)


class RequestEvent(db.Model):
    """One entry of a request's timeline: who, when, from, to, why (rule 6)."""

    __tablename__ = "request_events"
    __table_args__ = (sa.Index("ix_request_events_request_id_id", "request_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(120), default="")
    action: Mapped[str] = mapped_column(sa.String(40))
    from_status: Mapped[str | None] = mapped_column(sa.String(24))
    to_status: Mapped[str | None] = mapped_column(sa.String(24))
    note: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict | None] = mapped_column(sa.JSON)

    request: Mapped[ServiceRequest] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<RequestEvent {self.id} {self.action} {self.from_status}->{self.to_status}>"


class RequestFieldChange(db.Model):
    """One editable detail of a request (EDITABLE_FIELDS) changed by someone: the version it made, who, when.

    A phone's offline edit is merged by field: it applies when none of its fields changed since the version it
    was based on, and a conflict names who changed the field meanwhile.
    """

    __tablename__ = "request_field_changes"
    __table_args__ = (sa.Index("ix_request_field_changes_request_id_version", "request_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(sa.String(40))
    # The request's version the change made.
    version: Mapped[int]
    value: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(120), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<RequestFieldChange {self.request_id} {self.field} v{self.version}>"


class Visit(TimestampMixin, db.Model):
    """One visit on site by the assigned engineer; immutable once recorded."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("engineers.id"), index=True)
    arrived_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    labour_hours: Mapped[Decimal]
    # A fault knowledge entry (plain id: the knowledge domain owns that table), or free text.
    fault_id: Mapped[int | None] = mapped_column(index=True)
    fault: Mapped[str | None] = mapped_column(sa.Text)
    cause: Mapped[str | None] = mapped_column(sa.Text)
    solution: Mapped[str | None] = mapped_column(sa.Text)
    outcome: Mapped[str] = mapped_column(sa.String(20))
    signature_id: Mapped[str | None] = mapped_column(sa.ForeignKey("attachments.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The PWA's operation id: the same offline write replayed twice records one visit.
    client_op_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    request: Mapped[ServiceRequest] = relationship(back_populates="visits")
    engineer = relationship("Engineer")
    costs: Mapped[list["VisitCost"]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="VisitCost.id"
    )
    signature = relationship("Attachment", foreign_keys=[signature_id])
    photos: Mapped[list["Attachment"]] = relationship(
        primaryjoin="and_(Attachment.visit_id == Visit.id, Attachment.kind == 'photo')",
        foreign_keys="Attachment.visit_id",
        viewonly=True,
        order_by="Attachment.created_at",
    )

    def __repr__(self) -> str:
        return f"<Visit {self.id} of request {self.request_id} {self.outcome}>"


class VisitCost(db.Model):
    __tablename__ = "visit_costs"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    amount: Mapped[Decimal]
    note: Mapped[str | None] = mapped_column(sa.String(300))

    visit: Mapped[Visit] = relationship(back_populates="costs")

    def __repr__(self) -> str:
        return f"<VisitCost {self.id} {self.kind} {self.amount}>"


class Attachment(db.Model):
    """A photo or a signature, kept in the database: web processes are stateless and there are several."""

    __tablename__ = "attachments"

    # Made by the client (a uuid), so an offline phone can refer to it before it syncs.
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    # A plain id, not a foreign key: visits already point here for the signature, and a cycle of keys would
    # need
    # ALTER TABLE, which SQLite lacks. The operations set it only to a visit of the same request.
    visit_id: Mapped[int | None] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    content_type: Mapped[str] = mapped_column(sa.String(80))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Attachment {self.id} {self.kind} {self.size}B>"


class Survey(db.Model):
    """The callback agent's survey of a resolved request (rule 5)."""

    __tablename__ = "request_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    satisfied: Mapped[bool]
    timeliness: Mapped[int | None]
    attitude: Mapped[int | None]
    quality: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(sa.Text)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Survey {self.id} of request {self.request_id} satisfied={self.satisfied}>"


class ProductRequestCount(db.Model):
    """How many requests were logged per product (rule 1: each entry adds one)."""

    __tablename__ = "product_request_counts"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ProductRequestCount {self.product_id} {self.count}>"


class RequestCount(db.Model):
    """How many requests there are of each status and priority: the sum of `delta` over the rows of a (status,
    priority). On PostgreSQL, triggers on service_requests add one row per statement that changes those numbers
    (insert-only: concurrent writers never wait on each other here) and the sweep folds them into one row each
    (operations.fold_request_counts). The list's `total` for a status or priority filter is read here: counting
    a million rows takes a tenth of a second and more. Elsewhere (SQLite) the list counts the rows."""

    __tablename__ = "service_request_counts"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(24))
    priority: Mapped[int]
    delta: Mapped[int] = mapped_column(sa.BigInteger)

    def __repr__(self) -> str:
        return f"<RequestCount {self.status} {self.priority} {self.delta:+d}>"


# The triggers that keep service_request_counts (PostgreSQL; the migration creates the same).
COUNT_TRIGGER_SQL = [
    """
CREATE OR REPLACE FUNCTION service_request_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO service_request_counts (status, priority, delta)
        SELECT status, priority, count(*) FROM new_rows GROUP BY status, priority;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO service_request_counts (status, priority, delta)
        SELECT status, priority, -count(*) FROM old_rows GROUP BY status, priority;
    ELSE
        INSERT INTO service_request_counts (status, priority, delta)
        SELECT status, priority, sum(delta) FROM (
            SELECT status, priority, 1 AS delta FROM new_rows
            UNION ALL
            SELECT status, priority, -1 AS delta FROM old_rows
        ) AS changes
        GROUP BY status, priority
        HAVING sum(delta) <> 0;
    END IF;
    RETURN NULL;
END
$$
""",
    "CREATE OR REPLACE TRIGGER service_request_counts_insert AFTER INSERT ON service_requests"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION service_request_counts_changed()",
    "CREATE OR REPLACE TRIGGER service_request_counts_update AFTER UPDATE ON service_requests"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION service_request_counts_changed()",
    "CREATE OR REPLACE TRIGGER service_request_counts_delete AFTER DELETE ON service_requests"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION service_request_counts_changed()",
]


@sa.event.listens_for(db.metadata, "after_create")
def _count_triggers(target, connection, **_kw) -> None:
    if connection.dialect.name == "postgresql":
        for statement in COUNT_TRIGGER_SQL:
            connection.exec_driver_sql(statement)


class ProblemTypeRequestCount(db.Model):
    """How many requests were logged per problem type (rule 1: each entry adds one)."""

    __tablename__ = "problem_type_request_counts"

    problem_type: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ProblemTypeRequestCount {self.problem_type} {self.count}>"
