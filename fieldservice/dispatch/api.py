"""Dispatch (automatic, suggestions, the claim pool) and engineers' performance over JSON."""

from flask_login import current_user

from fieldservice.auth.permissions import CONSOLE, require
from fieldservice.core.api import PageArgs, api_blueprint, page_of
from fieldservice.core.errors import Forbidden
from fieldservice.core.models import utcnow
from fieldservice.dispatch import operations as ops
from fieldservice.dispatch import performance
from fieldservice.dispatch.permissions import CLAIM_POOL, DISPATCH, ENGINEERS_PERFORMANCE
from fieldservice.dispatch.schemas import (
    DispatchAutoArgs,
    DispatchResultSchema,
    EngineerPerformanceSchema,
    PerformanceReportSchema,
    PeriodArgs,
    SuggestionArgs,
    SuggestionSchema,
)
from fieldservice.engineers.operations import engineer_for_user, get_engineer
from fieldservice.engineers.permissions import check_self_or
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest
from fieldservice.requests.operations import get_request
from fieldservice.requests.schemas import ServiceRequestSchema

blp = api_blueprint("dispatch_api", __name__, "Dispatch and performance")


@blp.route("/engineers/<int:engineer_id>/performance")
@require(CONSOLE)
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, EngineerPerformanceSchema)
def engineer_performance(args, engineer_id):
    """Jobs, completion and first-time-fix rates, mean response and resolution hours, satisfaction; by day
    range."""
    engineer = get_engineer(engineer_id)
    check_self_or(ENGINEERS_PERFORMANCE, engineer)
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
    result = ops.auto_dispatch(args.get("request_ids"), current_user, apply=not args["dry_run"])
    db.session.commit()
    return result


@blp.route("/dispatch/suggestions/<int:request_id>")
@require(DISPATCH)
@blp.arguments(SuggestionArgs, location="query")
@blp.response(200, SuggestionSchema(many=True))
def suggestions(args, request_id):
    """The engineers for one request, best first, with distance, load and why (or why not)."""
    get_request(request_id)
    jobs = ops.to_jobs(db.session.scalars(ops.jobs_query().where(ServiceRequest.id == request_id)))
    assessment = ops.assess(jobs, ops.load_roster(utcnow()))
    return [s.as_dict() for s in ops.suggestions(assessment, 0, limit=args["limit"])]


@blp.route("/dispatch/pool")
@require(CLAIM_POOL)
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def claim_pool(args):
    """The open requests the calling engineer may claim (skills and zone): POST /requests/<id>/claim takes
    one."""
    engineer = engineer_for_user(current_user)
    if engineer is None:
        raise Forbidden("not_an_engineer", "Your login has no engineer profile.")
    return page_of(ops.claim_pool(engineer), ServiceRequestSchema(), args["page"], args["per_page"])
