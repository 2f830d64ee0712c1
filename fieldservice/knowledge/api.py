"""The fault knowledge base over JSON: search, entries, revisions, proposals, the engineers' offline copy."""

from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.core.api import VersionArgs, api_blueprint, page_of
from fieldservice.extensions import db
from fieldservice.knowledge import operations as ops
from fieldservice.knowledge.permissions import KNOWLEDGE_PROPOSE, KNOWLEDGE_READ, KNOWLEDGE_WRITE
from fieldservice.knowledge.schemas import (
    EntryArgs,
    EntryPageSchema,
    EntryQueryArgs,
    EntrySchema,
    EntryUpdateArgs,
    OfflineArgs,
    OfflineSchema,
    ProposalArgs,
    ProposalPublishArgs,
    ProposalQueryArgs,
    ProposalRejectArgs,
    ProposalSchema,
    ProposalUpdateArgs,
    RevisionSchema,
)

blp = api_blueprint("knowledge_api", __name__, "Fault knowledge base: symptoms, causes, solutions")


@blp.route("/knowledge")
@require(KNOWLEDGE_READ)
@blp.arguments(EntryQueryArgs, location="query")
@blp.response(200, EntryPageSchema)
def list_entries(args):
    """Search entries (Chinese or English), ranked by text match and by how often they solved a job.

    Without `q`, browse the entries in scope, most proven first. `product_id` keeps that product's entries and
    its category's general ones. Only managers and admins see draft and archived entries (`status`).
    """
    hits, total = ops.find_entries(
        current_user,
        args["q"],
        args["product_id"],
        args["category"],
        args["status"],
        args["limit"],
        args["offset"],
    )
    return {"items": hits, "total": total, "limit": args["limit"], "offset": args["offset"]}


@blp.route("/knowledge", methods=["POST"])
@require(KNOWLEDGE_WRITE)
@blp.arguments(EntryArgs)
@blp.response(201, EntrySchema)
def create_entry(args):
    entry = ops.create_entry(args, current_user)
    db.session.commit()
    return entry


@blp.route("/knowledge/<int:entry_id>")
@require(KNOWLEDGE_READ)
@blp.response(200, EntrySchema)
def get_entry(entry_id):
    return ops.get_entry(entry_id, current_user)


@blp.route("/knowledge/<int:entry_id>", methods=["PATCH"])
@require(KNOWLEDGE_WRITE)
@blp.arguments(EntryUpdateArgs)
@blp.response(200, EntrySchema)
def update_entry(args, entry_id):
    """Edit an entry. A stale `version` answers 409 with `changes`: what others changed since that version."""
    entry = ops.update_entry(ops.get_entry(entry_id), args, current_user)
    db.session.commit()
    return entry


@blp.route("/knowledge/<int:entry_id>/<any(publish, unpublish, archive):action>", methods=["POST"])
@require(KNOWLEDGE_WRITE)
@blp.arguments(VersionArgs)
@blp.response(200, EntrySchema)
def change_status(args, entry_id, action):
    """Move an entry through its workflow (operations.TRANSITIONS).

    publish: draft/archived -> published; unpublish: published -> draft; archive: draft/published -> archived.

    A stale `version` is 409; publishing an entry without a solution is 422.
    """
    entry = ops.change_status(ops.get_entry(entry_id), action, current_user, args["version"])
    db.session.commit()
    return entry


@blp.route("/knowledge/<int:entry_id>/revisions")
@require(KNOWLEDGE_WRITE)
@blp.response(200, RevisionSchema(many=True))
def list_revisions(entry_id):
    """Every saved version of the entry, newest first, with its full content."""
    return ops.entry_revisions(ops.get_entry(entry_id))


@blp.route("/knowledge/offline")
@require(KNOWLEDGE_READ)
@blp.arguments(OfflineArgs, location="query")
@blp.response(200, OfflineSchema)
def offline_copy(args):
    """Published entries for offline use, changed after `since`, with the ids to drop and the next cursor.

    An engineer who names no categories gets those of their skills.
    """
    categories = ops.offline_categories(current_user, args["categories"])
    return ops.offline_changes(categories, args["since"])


@blp.route("/knowledge/proposals")
@require(KNOWLEDGE_PROPOSE)
@blp.arguments(ProposalQueryArgs, location="query")
@blp.response(200)
def list_proposals(args):
    """Managers see every proposal; an engineer sees their own. `{items, total, page, per_page}`."""
    query = ops.visible_proposals(current_user, args["status"])
    return page_of(query, ProposalSchema(), args["page"], args["per_page"])


@blp.route("/knowledge/proposals", methods=["POST"])
@require(KNOWLEDGE_PROPOSE)
@blp.arguments(ProposalArgs)
@blp.response(201, ProposalSchema)
def create_proposal(args):
    """Propose a cause and solution learnt on a visit; a manager reviews and publishes or rejects it."""
    proposal = ops.create_proposal(args, current_user)
    db.session.commit()
    return proposal


@blp.route("/knowledge/proposals/<int:proposal_id>")
@require(KNOWLEDGE_PROPOSE)
@blp.response(200, ProposalSchema)
def get_proposal(proposal_id):
    return ops.get_proposal(proposal_id, current_user)


@blp.route("/knowledge/proposals/<int:proposal_id>", methods=["PATCH"])
@require(KNOWLEDGE_WRITE)
@blp.arguments(ProposalUpdateArgs)
@blp.response(200, ProposalSchema)
def update_proposal(args, proposal_id):
    proposal = ops.update_proposal(ops.get_proposal(proposal_id, current_user), args, current_user)
    db.session.commit()
    return proposal


@blp.route("/knowledge/proposals/<int:proposal_id>/publish", methods=["POST"])
@require(KNOWLEDGE_WRITE)
@blp.arguments(ProposalPublishArgs)
@blp.response(200, ProposalSchema)
def publish_proposal(args, proposal_id):
    """Publish as a new entry, or with `entry_id` as a new cause of that entry."""
    proposal = ops.get_proposal(proposal_id, current_user)
    ops.publish_proposal(proposal, current_user, args["version"], args["entry_id"])
    db.session.commit()
    return proposal


@blp.route("/knowledge/proposals/<int:proposal_id>/reject", methods=["POST"])
@require(KNOWLEDGE_WRITE)
@blp.arguments(ProposalRejectArgs)
@blp.response(200, ProposalSchema)
def reject_proposal(args, proposal_id):
    proposal = ops.get_proposal(proposal_id, current_user)
    ops.reject_proposal(proposal, current_user, args["version"], args["reason"])
    db.session.commit()
    return proposal
