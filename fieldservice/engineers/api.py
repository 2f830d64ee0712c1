"""Engineers and their leave over JSON."""

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import selectinload

from fieldservice.auth.models import User
from fieldservice.auth.permissions import CONSOLE, require
from fieldservice.core.api import api_blueprint
from fieldservice.core.search import contains_text
from fieldservice.engineers import operations as ops
from fieldservice.engineers.models import Engineer, EngineerSkill
from fieldservice.engineers.permissions import ENGINEERS_READ, ENGINEERS_WRITE, check_self_or
from fieldservice.engineers.schemas import (
    EngineerArgs,
    EngineerPageSchema,
    EngineerQueryArgs,
    EngineerSchema,
    EngineerUpdateArgs,
    LeaveArgs,
    LeaveSchema,
)
from fieldservice.extensions import db

blp = api_blueprint("engineers_api", __name__, "Engineers and leave")


def _with_load(engineers: list[Engineer]) -> list[Engineer]:
    """Attach each engineer's current load (one grouped query for the whole page)."""
    loads = ops.current_loads(e.id for e in engineers)
    for engineer in engineers:
        engineer.load = loads[engineer.id]
    return engineers


def search_engineers(args: dict) -> sa.Select:
    query = (
        sa.select(Engineer)
        .join(User, User.id == Engineer.user_id)
        .options(selectinload(Engineer.skills), selectinload(Engineer.leaves))
        .order_by(Engineer.name, Engineer.id)
    )
    if args.get("zone"):
        query = query.where(Engineer.zone == args["zone"])
    if args.get("skill"):
        query = query.where(
            Engineer.id.in_(sa.select(EngineerSkill.engineer_id).where(EngineerSkill.category == args["skill"]))
        )
    if args.get("active") is not None:
        query = query.where(Engineer.active == args["active"])
    if args.get("q"):
        query = query.where(contains_text(args["q"], Engineer.name, User.username, Engineer.phone))
    return query


@blp.route("/engineers")
@require(ENGINEERS_READ)
@blp.arguments(EngineerQueryArgs, location="query")
@blp.response(200, EngineerPageSchema)
def list_engineers(args):
    """Engineers with their current load, filtered by zone, skill, active or a search text."""
    query = search_engineers(args)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    page, per_page = args["page"], args["per_page"]
    engineers = _with_load(list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page))))
    return {
        "items": engineers,
        "total": total,
        "page": page,
        "per_page": per_page,
    }


@blp.route("/engineers", methods=["POST"])
@require(ENGINEERS_WRITE)
@blp.arguments(EngineerArgs)
@blp.response(201, EngineerSchema)
def create_engineer(args):
    """Create an engineer and their login (role engineer)."""
    engineer = ops.create_engineer(args, current_user)
    db.session.commit()
    return _with_load([engineer])[0]


@blp.route("/engineers/<int:engineer_id>")
@require(CONSOLE)
@blp.response(200, EngineerSchema)
def get_engineer(engineer_id):
    """One engineer (managers, dispatchers, and the engineer themselves)."""
    engineer = ops.get_engineer(engineer_id)
    check_self_or(ENGINEERS_READ, engineer)
    return _with_load([engineer])[0]


@blp.route("/engineers/<int:engineer_id>", methods=["PATCH"])
@require(ENGINEERS_WRITE)
@blp.arguments(EngineerUpdateArgs)
@blp.response(200, EngineerSchema)
def update_engineer(args, engineer_id):
    """Change skills, zone, home location, hours, cap or the active flag; send the `version` you read."""
    engineer = ops.update_engineer(ops.get_engineer(engineer_id), args, current_user)
    db.session.commit()
    return _with_load([engineer])[0]


@blp.route("/engineers/<int:engineer_id>/leaves", methods=["POST"])
@require(ENGINEERS_WRITE)
@blp.arguments(LeaveArgs)
@blp.response(201, LeaveSchema)
def add_leave(args, engineer_id):
    leave = ops.add_leave(ops.get_engineer(engineer_id), args, current_user)
    db.session.commit()
    return leave


@blp.route("/engineers/<int:engineer_id>/leaves/<int:leave_id>", methods=["DELETE"])
@require(ENGINEERS_WRITE)
@blp.response(204)
def remove_leave(engineer_id, leave_id):
    ops.remove_leave(ops.get_engineer(engineer_id), leave_id, current_user)
    db.session.commit()
