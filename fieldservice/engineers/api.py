"""Engineers, leave, performance and dispatch over JSON."""

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import selectinload

from fieldservice.auth.models import User
from fieldservice.auth.permissions import CONSOLE, can, require
from fieldservice.core.api import PageArgs, api_blueprint
from fieldservice.core.errors import Forbidden
from fieldservice.core.models import utcnow
from fieldservice.engineers import dispatch, performance
from fieldservice.engineers import operations as ops
from fieldservice.engineers.models import Engineer, EngineerSkill
from fieldservice.engineers.permissions import (
    CLAIM_POOL,
    DISPATCH,
    ENGINEERS_PERFORMANCE,
    ENGINEERS_READ,
    ENGINEERS_WRITE,
)
from fieldservice.engineers.schemas import (
    DispatchAutoArgs,
    DispatchResultSchema,
    EngineerArgs,
    EngineerPageSchema,
    EngineerPerformanceSchema,
    EngineerQueryArgs,
    EngineerSchema,
    EngineerUpdateArgs,
    LeaveArgs,
    LeaveSchema,
    PerformanceReportSchema,
    PeriodArgs,
    SuggestionArgs,
    SuggestionSchema,
)
from fieldservice.extensions import db

blp = api_blueprint("engineers_api", __name__, "Engineers, leave, performance and dispatch")


def _with_load(engineers: list[Engineer]) -> list[Engineer]:
    """Attach each engineer's current load (one grouped query for the whole page)."""
    loads = ops.open_load(e.id for e in engineers)
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
            Engineer.id.in_(
                sa.select(EngineerSkill.engineer_id).where(EngineerSkill.category == args["skill"])
            )
        )
    if args.get("active") is not None:
        query = query.where(Engineer.active == args["active"])
    if args.get("q"):
        like = f"%{args['q'].strip()}%"
        query = query.where(
            sa.or_(Engineer.name.ilike(like), User.username.ilike(like), Engineer.phone.ilike(like))
        )
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
    _check_self_or(ENGINEERS_READ, engineer)
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


def _check_self_or(permission: str, engineer: Engineer) -> None:
    """An engineer may read their own record; everyone else needs *permission*."""
    if not can(current_user, permission) and engineer.user_id != current_user.id:
        raise Forbidden(
            "forbidden", f"Your role ({current_user.role}) may not read another engineer's record."
        )


@blp.route("/engineers/<int:engineer_id>/performance")
@require(CONSOLE)
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, EngineerPerformanceSchema)
def engineer_performance(args, engineer_id):
    """Jobs, completion and first-time-fix rates, mean response and resolution hours, satisfaction; by day
    range."""
    engineer = ops.get_engineer(engineer_id)
    _check_self_or(ENGINEERS_PERFORMANCE, engineer)
    start, end = performance.period_bounds(args["from_"], args["to"])
    return {
        "period": {"from_": start, "to": end},
        "engineer": performance.engineer_performance(engineer, start, end),
    }


@blp.route("/engineers/performance")
@require(ENGINEERS_PERFORMANCE)
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, PerformanceReportSchema)
def team_performance(args):
    """The team's figures and each engineer's over a period of days."""
    start, end = performance.period_bounds(args["from_"], args["to"])
    return {"period": {"from_": start, "to": end}, **performance.team_performance(start, end)}


@blp.route("/dispatch/auto", methods=["POST"])
@require(DISPATCH)
@blp.arguments(DispatchAutoArgs)
@blp.response(200, DispatchResultSchema)
def auto_dispatch(args):
    """Assign the requests awaiting assignment (or those listed) as one batch; each with its reason."""
    result = dispatch.auto_dispatch(args.get("request_ids"), current_user, apply=not args["dry_run"])
    db.session.commit()
    return result


@blp.route("/dispatch/suggestions/<int:request_id>")
@require(DISPATCH)
@blp.arguments(SuggestionArgs, location="query")
@blp.response(200, SuggestionSchema(many=True))
def suggestions(args, request_id):
    """The engineers for one request, best first, with distance, load and why (or why not)."""
    from fieldservice.requests.models import ServiceRequest
    from fieldservice.requests.operations import get_request

    get_request(request_id)
    jobs = dispatch.to_jobs(db.session.scalars(dispatch.jobs_query().where(ServiceRequest.id == request_id)))
    assessment = dispatch.assess(jobs, dispatch.load_roster(utcnow()))
    return [s.as_dict() for s in dispatch.suggestions(assessment, 0, limit=args["limit"])]


@blp.route("/dispatch/pool")
@require(CLAIM_POOL)
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def claim_pool(args):
    """The open requests the calling engineer may claim (skills and zone): POST /requests/<id>/claim takes
    one."""
    from fieldservice.core.api import page_of
    from fieldservice.requests.schemas import ServiceRequestSchema

    engineer = ops.engineer_for_user(current_user)
    if engineer is None:
        raise Forbidden("not_an_engineer", "Your login has no engineer profile.")
    return page_of(ops.claim_pool(engineer), ServiceRequestSchema(), args["page"], args["per_page"])
