"""The knowledge base's rules: entries with revisions, publishing, usage counts from visits, proposals, the
offline copy.

Operations flush and never commit; the handler commits once.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from fieldservice.auth.models import Role
from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.customers.models import Product
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.knowledge.models import (
    EntryRevision,
    KnowledgeCause,
    KnowledgeEntry,
    KnowledgeProposal,
    KnowledgeSolution,
)
from fieldservice.knowledge.search import (
    PUBLISHED,
    SearchHit,
    full_entry,
    index_entry,
    load_hits,
    ranked_ids,
    scope_filter,
    search,
)
from fieldservice.requests import signals as request_signals
from fieldservice.requests.models import ServiceRequest, Visit

__all__ = ["search", "record_use", "SearchHit", "ranked_ids", "load_hits"]

log = logging.getLogger("fieldservice.knowledge")

STATUSES = ("draft", "published", "archived")
# action -> (the states it may start from, the state it leads to)
TRANSITIONS = {
    "publish": ({"draft", "archived"}, "published"),
    "unpublish": ({"published"}, "draft"),
    "archive": ({"draft", "published"}, "archived"),
}
PROPOSAL_STATUSES = ("pending", "published", "rejected")
# The fields a revision records and a stale edit compares, in the order a person reads them.
CONTENT_FIELDS = ("symptom", "fault_code", "category", "product_id", "status", "causes")
# The offline cursor is handed back this much early: a save that committed just after the read but was stamped
# just before it is sent again next time instead of never (clients upsert by id, so a repeat is harmless).
SYNC_OVERLAP = timedelta(seconds=30)


def is_editor(user) -> bool:
    return user is not None and user.role in (Role.ADMIN, Role.MANAGER)


def visible_statuses(user) -> tuple[str, ...]:
    """Managers see drafts and the archive; everyone else reads published entries only."""
    return STATUSES if is_editor(user) else PUBLISHED


def get_entry(entry_id: int, user=None) -> KnowledgeEntry:
    entry = db.session.get(KnowledgeEntry, entry_id)
    if entry is None or (user is not None and entry.status not in visible_statuses(user)):
        raise NotFound("not_found", f"No knowledge entry with id {entry_id}.")
    return entry


def _scope(data: dict, current_product_id: int | None = None, current_category: str | None = None) -> tuple:
    """Check product and category together: an entry for a product belongs to that product's category."""
    product_id = data.get("product_id", current_product_id)
    category = data.get("category") or None
    if product_id is not None:
        product = db.session.get(Product, product_id)
        if product is None:
            raise ValidationFailed(
                "validation_failed", "No such product.", {"product_id": "No such product."}
            )
        if category and category != product.category:
            raise ValidationFailed(
                "validation_failed",
                "The category must be the product's category.",
                {"category": "The category must be the product's category."},
            )
        return product_id, product.category
    category = category or current_category
    if not category:
        raise ValidationFailed(
            "validation_failed",
            "Name a product or a category.",
            {"category": "Name a product or a category."},
        )
    return None, category


def _clean_code(code: str | None) -> str | None:
    code = (code or "").strip()
    return code.upper() or None


def _row(existing: dict, data: dict, make, field: str, message: str):
    """The row *data* names by id (taken out of *existing*, keeping its counts), or a new one from *make*."""
    row_id = data.get("id")
    if row_id is None:
        return make()
    if row_id not in existing:
        raise ValidationFailed("validation_failed", message, {field: message})
    return existing.pop(row_id)


def _apply_causes(entry: KnowledgeEntry, causes: list[dict]) -> None:
    """Replace the causes and solutions with *causes*; an item with an id updates that row (counts kept)."""
    existing = {c.id: c for c in entry.causes}
    kept = []
    for position, data in enumerate(causes):
        cause = _row(
            existing, data, KnowledgeCause, f"causes.{position}.id", "This cause is not in this entry."
        )
        cause.position = position
        cause.description = data["description"].strip()
        cause.solutions = _solutions(cause, data.get("solutions") or [], position)
        kept.append(cause)
    entry.causes = kept


def _solutions(cause: KnowledgeCause, solutions: list[dict], cause_position: int) -> list[KnowledgeSolution]:
    existing = {s.id: s for s in cause.solutions}
    kept = []
    for position, data in enumerate(solutions):
        solution = _row(
            existing,
            data,
            KnowledgeSolution,
            f"causes.{cause_position}.solutions.{position}.id",
            "This solution is not under this cause.",
        )
        solution.position = position
        solution.summary = data["summary"].strip()
        solution.steps = [s.strip() for s in data.get("steps") or [] if s and s.strip()]
        solution.parts = (data.get("parts") or "").strip() or None
        hours = data.get("estimated_hours")
        solution.estimated_hours = None if hours is None else Decimal(str(hours)).quantize(Decimal("0.01"))
        kept.append(solution)
    return kept


def _hours(value) -> str | None:
    return None if value is None else str(Decimal(str(value)).quantize(Decimal("0.01")))


def entry_content(entry: KnowledgeEntry) -> dict:
    """The full content of *entry* as plain JSON: what a revision keeps."""
    return {
        "symptom": entry.symptom,
        "fault_code": entry.fault_code,
        "category": entry.category,
        "product_id": entry.product_id,
        "status": entry.status,
        "causes": [
            {
                "id": c.id,
                "description": c.description,
                "solutions": [
                    {
                        "id": s.id,
                        "summary": s.summary,
                        "steps": list(s.steps or []),
                        "parts": s.parts,
                        "estimated_hours": _hours(s.estimated_hours),
                    }
                    for s in c.solutions
                ],
            }
            for c in entry.causes
        ],
    }


def causes_text(causes: list[dict]) -> str:
    """Causes and solutions as a few readable lines (for a diff a person can follow)."""
    lines = []
    for i, cause in enumerate(causes, 1):
        lines.append(f"{i}. {cause['description']}")
        for solution in cause.get("solutions") or []:
            hours = f" ({solution['estimated_hours']} h)" if solution.get("estimated_hours") else ""
            lines.append(f"   - {solution['summary']}{hours}")
            lines.extend(f"     · {step}" for step in solution.get("steps") or [])
            if solution.get("parts"):
                lines.append(f"     [{solution['parts']}]")
    return "\n".join(lines)


def _comparable(field: str, content: dict):
    value = content.get(field)
    if field == "causes":
        # Row ids are bookkeeping; what a reader compares is the text.
        return causes_text(value or [])
    return value


def content_changes(before: dict, after: dict) -> list[dict]:
    """The fields that differ between two contents: [{field, before, after}]."""
    return [
        {"field": field, "before": _comparable(field, before), "after": _comparable(field, after)}
        for field in CONTENT_FIELDS
        if _comparable(field, before) != _comparable(field, after)
    ]


def _save_revision(entry: KnowledgeEntry, actor, note: str | None = None) -> EntryRevision:
    db.session.flush()
    revision = EntryRevision(
        entry_id=entry.id,
        version=entry.version,
        content=entry_content(entry),
        saved_by_id=getattr(actor, "id", None),
        saved_at=entry.updated_at or utcnow(),
        note=note,
    )
    db.session.add(revision)
    db.session.flush()
    return revision


def revision_of(entry: KnowledgeEntry, version: int) -> EntryRevision | None:
    return db.session.scalar(
        sa.select(EntryRevision).where(EntryRevision.entry_id == entry.id, EntryRevision.version == version)
    )


def check_entry_version(entry: KnowledgeEntry, sent_version: int | None) -> None:
    """409 on a stale edit, naming what changed since the version the editor started from."""
    if sent_version is None or sent_version == entry.version:
        return
    base = revision_of(entry, sent_version)
    changes = content_changes(base.content, entry_content(entry)) if base is not None else []
    raise Conflict(
        "stale_version",
        f"This entry was changed by someone else (now version {entry.version}, you sent {sent_version}).",
        current_version=entry.version,
        changes=changes,
    )


def _check_publishable(entry: KnowledgeEntry) -> None:
    if not entry.causes or not any(c.solutions for c in entry.causes):
        raise ValidationFailed(
            "not_publishable",
            "Give at least one cause with a solution before publishing.",
            {"causes": "Give at least one cause with a solution before publishing."},
        )


def create_entry(data: dict, actor, note: str | None = None) -> KnowledgeEntry:
    """A new entry (draft unless data["status"] is "published"), with revision 1 and its index rows."""
    product_id, category = _scope(data)
    status = data.get("status") or "draft"
    if status not in ("draft", "published"):
        raise ValidationFailed(
            "validation_failed", "A new entry is a draft or published.", {"status": "Not allowed."}
        )
    entry = KnowledgeEntry(
        product_id=product_id,
        category=category,
        symptom=data["symptom"].strip(),
        fault_code=_clean_code(data.get("fault_code")),
        status=status,
        created_by_id=actor.id,
        updated_by_id=actor.id,
    )
    _apply_causes(entry, data.get("causes") or [])
    if status == "published":
        _check_publishable(entry)
        entry.published_at = utcnow()
    db.session.add(entry)
    db.session.flush()
    _save_revision(entry, actor, note)
    index_entry(entry)
    log.info(
        "knowledge entry %s (%s) created as %s by %s", entry.id, entry.fault_code, status, actor.username
    )
    return entry


def update_entry(entry: KnowledgeEntry, data: dict, actor, note: str | None = None) -> KnowledgeEntry:
    """Change an entry's content; keeps the new content as a revision and refreshes the index."""
    check_entry_version(entry, data.pop("version", None))
    # One edit is one UPDATE of the row, so one version step: no flush half-way (loading the causes would
    # otherwise write the symptom first, and the timestamp below would bump the version a second time).
    with db.session.no_autoflush:
        if "product_id" in data or "category" in data:
            entry.product_id, entry.category = _scope(data, entry.product_id, entry.category)
        if "symptom" in data:
            entry.symptom = data["symptom"].strip()
        if "fault_code" in data:
            entry.fault_code = _clean_code(data["fault_code"])
        if "causes" in data:
            _apply_causes(entry, data["causes"])
        if entry.status == "published":
            _check_publishable(entry)
        # A new timestamp makes the row itself change, so its version moves even when only causes did.
        entry.updated_at = utcnow()
        entry.updated_by_id = actor.id
    db.session.flush()
    _save_revision(entry, actor, note)
    index_entry(entry)
    log.info(
        "knowledge entry %s updated to v%s by %s: %s", entry.id, entry.version, actor.username, sorted(data)
    )
    return entry


def change_status(entry: KnowledgeEntry, action: str, actor, version: int | None) -> KnowledgeEntry:
    """publish / unpublish / archive, by the TRANSITIONS table."""
    if action not in TRANSITIONS:
        raise NotFound("not_found", f"No action {action!r}.")
    check_entry_version(entry, version)
    sources, target = TRANSITIONS[action]
    if entry.status not in sources:
        raise Conflict("illegal_transition", f"Cannot {action} an entry that is {entry.status}.")
    if target == "published":
        _check_publishable(entry)
        entry.published_at = utcnow()
    entry.status = target
    entry.updated_at = utcnow()
    entry.updated_by_id = actor.id
    db.session.flush()
    _save_revision(entry, actor, action)
    log.info("knowledge entry %s %s (v%s) by %s", entry.id, action, entry.version, actor.username)
    return entry


def allowed_actions(entry: KnowledgeEntry) -> list[str]:
    return [action for action, (sources, _target) in TRANSITIONS.items() if entry.status in sources]


def entry_revisions(entry: KnowledgeEntry) -> list[EntryRevision]:
    return list(
        db.session.scalars(
            sa.select(EntryRevision)
            .where(EntryRevision.entry_id == entry.id)
            .order_by(EntryRevision.version.desc())
        )
    )


def browse_entries(
    user, product_id: int | None = None, category: str | None = None, status: str | None = None
):
    """Entries in scope without a query, most proven first (a SELECT for paging)."""
    statuses = _statuses_for(user, status)
    return (
        sa.select(KnowledgeEntry)
        .where(*scope_filter(product_id, category, statuses))
        .order_by(KnowledgeEntry.successes.desc(), KnowledgeEntry.uses.desc(), KnowledgeEntry.id)
    )


def _statuses_for(user, status: str | None) -> tuple[str, ...]:
    allowed = visible_statuses(user)
    if status is None:
        return PUBLISHED if not is_editor(user) else allowed
    if status not in allowed:
        raise Forbidden("forbidden", "Only managers read draft and archived entries.")
    return (status,)


def find_entries(user, q: str = "", product_id=None, category=None, status=None, limit=20, offset=0):
    """Search (with a query) or browse (without): (hits, total)."""
    statuses = _statuses_for(user, status)
    if q.strip():
        ranked = ranked_ids(q, product_id, category, statuses)
        return load_hits(ranked[offset : offset + limit]), len(ranked)
    query = browse_entries(user, product_id, category, status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    entries = db.session.scalars(query.limit(limit).offset(offset).options(*full_entry())).all()
    return [SearchHit(e, None) for e in entries], total


# --- learning from visits
# -------------------------------------------------------------------------------------


def _normalized(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def record_use(entry_id: int, solved: bool, solution_text: str | None = None) -> None:
    """Count a visit that cited *entry_id*: a use, and a success when it solved the job.

    Atomic increments that leave `version` and `updated_at` alone: a count is not an edit, so it neither
    makes a manager's open edit stale nor sends the entry to every phone again. When the visit's solution
    text is one of the entry's solutions, that solution is counted too.
    """
    if db.session.get(KnowledgeEntry, entry_id) is None:
        raise ValidationFailed(
            "validation_failed", "No such knowledge entry.", {"fault_id": "No such knowledge entry."}
        )
    success = 1 if solved else 0
    db.session.execute(
        sa.update(KnowledgeEntry)
        .where(KnowledgeEntry.id == entry_id)
        .values(
            uses=KnowledgeEntry.uses + 1,
            successes=KnowledgeEntry.successes + success,
            updated_at=KnowledgeEntry.updated_at,
        )
        .execution_options(synchronize_session=False)
    )
    wanted = _normalized(solution_text)
    if wanted:
        solution_ids = [
            s.id
            for s in db.session.scalars(
                sa.select(KnowledgeSolution).join(KnowledgeCause).where(KnowledgeCause.entry_id == entry_id)
            )
            if _normalized(s.summary) == wanted
        ]
        if solution_ids:
            db.session.execute(
                sa.update(KnowledgeSolution)
                .where(KnowledgeSolution.id == solution_ids[0])
                .values(uses=KnowledgeSolution.uses + 1, successes=KnowledgeSolution.successes + success)
                .execution_options(synchronize_session=False)
            )
    # The rows changed under the session: reload them next time they are read.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, KnowledgeEntry | KnowledgeSolution):
            db.session.expire(obj, ["uses", "successes"])
    log.info("knowledge entry %s used on a visit (%s)", entry_id, "solved" if solved else "not solved")


def on_visit_recorded(visit, request=None, data=None, **_kw) -> None:
    """requests.signals.visit_recorded: a visit citing an entry counts a use, and a success when resolved."""
    entry_id = getattr(visit, "fault_id", None) or (data or {}).get("fault_id")
    if not entry_id:
        return
    record_use(int(entry_id), getattr(visit, "outcome", None) == "resolved", getattr(visit, "solution", None))


def connect_signals() -> None:
    """Count each visit that used an entry: subscribe to the requests domain's visit_recorded."""
    request_signals.visit_recorded.connect(on_visit_recorded, weak=False)


# --- proposals
# ------------------------------------------------------------------------------------------------


def get_proposal(proposal_id: int, user) -> KnowledgeProposal:
    proposal = db.session.get(KnowledgeProposal, proposal_id)
    if proposal is None or not (is_editor(user) or proposal.proposed_by_id == user.id):
        raise NotFound("not_found", f"No proposal with id {proposal_id}.")
    return proposal


def visible_proposals(user, status: str | None = None) -> sa.Select:
    """Managers review every proposal; an engineer follows their own."""
    query = sa.select(KnowledgeProposal).order_by(
        KnowledgeProposal.created_at.desc(), KnowledgeProposal.id.desc()
    )
    if not is_editor(user):
        query = query.where(KnowledgeProposal.proposed_by_id == user.id)
    if status:
        query = query.where(KnowledgeProposal.status == status)
    return query


def _check_request(request_id: int, actor) -> None:
    """The proposal's request exists, and an engineer proposes only from a request they visited."""
    if db.session.get(ServiceRequest, request_id) is None:
        raise ValidationFailed("validation_failed", "No such request.", {"request_id": "No such request."})
    if actor.role == Role.ENGINEER:
        engineer = engineer_for_user(actor)
        visited = engineer is not None and db.session.scalar(
            sa.select(Visit.id)
            .where(Visit.request_id == request_id, Visit.engineer_id == engineer.id)
            .limit(1)
        )
        if not visited:
            raise Forbidden("forbidden", "You can propose from the requests you visited only.")


def create_proposal(data: dict, actor) -> KnowledgeProposal:
    """An engineer's new cause and solution, pending a manager's review."""
    product_id, category = _scope(data)
    if data.get("request_id") is not None:
        _check_request(data["request_id"], actor)
    proposal = KnowledgeProposal(
        request_id=data.get("request_id"),
        product_id=product_id,
        category=category,
        symptom=data["symptom"].strip(),
        fault_code=_clean_code(data.get("fault_code")),
        cause=data["cause"].strip(),
        solution=data["solution"].strip(),
        proposed_by_id=actor.id,
    )
    db.session.add(proposal)
    db.session.flush()
    log.info(
        "knowledge proposal %s made by %s (request %s)", proposal.id, actor.username, proposal.request_id
    )
    return proposal


def _check_pending(proposal: KnowledgeProposal, version: int | None) -> None:
    check_version(proposal, version)
    if proposal.status != "pending":
        raise Conflict("illegal_transition", f"This proposal is {proposal.status} already.")


def update_proposal(proposal: KnowledgeProposal, data: dict, actor) -> KnowledgeProposal:
    """A manager's review edits, before publishing."""
    _check_pending(proposal, data.pop("version", None))
    if "product_id" in data or "category" in data:
        proposal.product_id, proposal.category = _scope(data, proposal.product_id, proposal.category)
    for key in ("symptom", "cause", "solution"):
        if key in data:
            setattr(proposal, key, data[key].strip())
    if "fault_code" in data:
        proposal.fault_code = _clean_code(data["fault_code"])
    db.session.flush()
    log.info("knowledge proposal %s edited by %s", proposal.id, actor.username)
    return proposal


def solution_from_text(text: str) -> dict:
    """Free text to a solution: the first line is its summary, every line a step when there are several."""
    lines = [line.strip(" \t-·•") for line in text.splitlines() if line.strip(" \t-·•")]
    summary = lines[0][:300] if lines else text.strip()[:300]
    return {"summary": summary, "steps": lines if len(lines) > 1 else []}


def publish_proposal(
    proposal: KnowledgeProposal, actor, version: int | None, entry_id: int | None = None
) -> KnowledgeProposal:
    """Publish a proposal: as a new entry, or as a new cause of an existing entry (*entry_id*)."""
    _check_pending(proposal, version)
    cause = {"description": proposal.cause, "solutions": [solution_from_text(proposal.solution)]}
    note = f"proposal #{proposal.id}"
    if entry_id is not None:
        entry = db.session.get(KnowledgeEntry, entry_id)
        if entry is None:
            raise ValidationFailed(
                "validation_failed", "No such entry.", {"entry_id": "No such knowledge entry."}
            )
        existing = entry_content(entry)["causes"]
        update_entry(entry, {"causes": [*existing, cause]}, actor, note=note)
    else:
        entry = create_entry(
            {
                "product_id": proposal.product_id,
                "category": proposal.category,
                "symptom": proposal.symptom,
                "fault_code": proposal.fault_code,
                "status": "published",
                "causes": [cause],
            },
            actor,
            note=note,
        )
    proposal.status = "published"
    proposal.entry_id = entry.id
    proposal.reviewed_by_id = actor.id
    proposal.reviewed_at = utcnow()
    db.session.flush()
    log.info("knowledge proposal %s published as entry %s by %s", proposal.id, entry.id, actor.username)
    return proposal


def reject_proposal(
    proposal: KnowledgeProposal, actor, version: int | None, reason: str
) -> KnowledgeProposal:
    _check_pending(proposal, version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("validation_failed", "Give a reason.", {"reason": "Give a reason."})
    proposal.status = "rejected"
    proposal.reject_reason = reason
    proposal.reviewed_by_id = actor.id
    proposal.reviewed_at = utcnow()
    db.session.flush()
    log.info("knowledge proposal %s rejected by %s", proposal.id, actor.username)
    return proposal


# --- the engineers' offline copy
# ------------------------------------------------------------------------------


def offline_categories(user, categories: list[str] | None) -> list[str] | None:
    """The categories asked for, or an engineer's skills when none were (None: every category)."""
    if categories:
        return categories
    if user.role == Role.ENGINEER:
        engineer = engineer_for_user(user)
        return engineer.skill_categories if engineer is not None else []
    return None


def offline_changes(
    categories: list[str] | None, since: datetime | None, now: datetime | None = None
) -> dict:
    """Published entries of *categories* changed after *since*, the ids to drop, and the next cursor."""
    now = now or utcnow()
    in_scope = KnowledgeEntry.status == "published"
    if categories is not None:
        in_scope = sa.and_(in_scope, KnowledgeEntry.category.in_(categories))
    query = (
        sa.select(KnowledgeEntry)
        .where(in_scope)
        .order_by(KnowledgeEntry.updated_at, KnowledgeEntry.id)
        .options(*full_entry())
    )
    removed: list[int] = []
    if since is not None:
        query = query.where(KnowledgeEntry.updated_at > since)
        # Unpublished, archived or moved to another category since: a phone holding it must drop it.
        removed = list(
            db.session.scalars(
                sa.select(KnowledgeEntry.id)
                # An entry never published was never on a phone.
                .where(
                    KnowledgeEntry.updated_at > since,
                    KnowledgeEntry.published_at.is_not(None),
                    sa.not_(in_scope),
                )
                .order_by(KnowledgeEntry.id)
            )
        )
    return {"entries": db.session.scalars(query).all(), "removed": removed, "cursor": now - SYNC_OVERLAP}


connect_signals()
