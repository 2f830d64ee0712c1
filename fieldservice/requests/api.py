"""Service requests over JSON (API.md "Service requests")."""

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import selectinload

from fieldservice.auth.permissions import require
from fieldservice.core.api import api_blueprint
from fieldservice.core.errors import NotFound
from fieldservice.core.models import commit_keeping_loaded
from fieldservice.extensions import db
from fieldservice.requests import operations as ops
from fieldservice.requests import signals
from fieldservice.requests.maintenance import generate_maintenance
from fieldservice.requests.models import ProblemType, ServiceRequest, Visit
from fieldservice.requests.permissions import MAINTENANCE_RUN, PROBLEM_TYPES_MANAGE, REQUESTS_CREATE, REQUESTS_READ
from fieldservice.requests.projection import ListProjection
from fieldservice.requests.schemas import (
    ACTION_ARGS,
    MaintenanceRunArgs,
    MaintenanceRunSchema,
    ProblemTypeArgs,
    ProblemTypeQueryArgs,
    ProblemTypeSchema,
    ProblemTypeUpdateArgs,
    RequestArgs,
    RequestEditArgs,
    RequestEventSchema,
    RequestQueryArgs,
    ServiceRequestDetailSchema,
    ServiceRequestSchema,
    VisitArgs,
    VisitSchema,
)

blp = api_blueprint("requests_api", __name__, "Service requests: intake, actions, visits, timeline")

# The dispatch list is the busiest page (bench/requests_list.py): read as plain rows, the schema's columns and
# its four many-to-one relations in one query, rather than as ORM entities dumped by marshmallow.
LIST = ListProjection(ServiceRequestSchema(), ServiceRequest)


def _detail(sr: ServiceRequest) -> ServiceRequest:
    sr.actions = ops.allowed_actions(sr, current_user)
    return sr


@blp.route("/requests", methods=["POST"])
@require(REQUESTS_CREATE)
@blp.arguments(RequestArgs)
@blp.response(201, ServiceRequestDetailSchema)
def create_request(args):
    """Log a request: awaiting_assignment, or suspended when `suspended` is true."""
    sr = ops.create_request(args, current_user)
    commit_keeping_loaded()
    return _detail(sr)


@blp.route("/requests")
@require(REQUESTS_READ)
@blp.arguments(RequestQueryArgs, location="query")
@blp.response(200)
def list_requests(args):
    """The requests the caller may see, filtered; by the customer's required date unless `sort` says, the best
    matches first when searching (`q`): its number, then a number, customer phone or name that starts with it,
    then one that contains it, then the description. The total of a list that is not only by status and
    priority (a search, a zone, overdue, an engineer, a customer) is counted up to 1,000: past that, `total` is
    1000 and `total_capped` is true. A search's pages go as far as its first 10,000 matches (422 past them)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    listed = ops.request_page(
        ops.visible_requests(current_user), page, per_page, total=ops.listed_total(current_user, **args), **args
    )
    items = LIST.dump_page(listed.select) if listed.ids is None else LIST.dump_ids(listed.ids)
    # The detail's `appointment` too, for the whole page in one question to the domain that books them.
    found = signals.appointments_of(item["id"] for item in items)
    for item in items:
        item["appointment"] = found.get(item["id"])
    return {
        "items": items,
        "total": listed.total,
        "total_capped": listed.capped,
        "page": page,
        "per_page": per_page,
    }


@blp.route("/requests/<int:request_id>")
@require(REQUESTS_READ)
@blp.response(200, ServiceRequestDetailSchema)
def get_request(request_id):
    return _detail(ops.get_visible_request(request_id, current_user))


@blp.route("/requests/<int:request_id>", methods=["PATCH"])
@require(REQUESTS_READ)
@blp.arguments(RequestEditArgs)
@blp.response(200, ServiceRequestDetailSchema)
def edit_request(args, request_id):
    """Change the contact, the site address or the engineer's note (dispatchers, managers, admins, and the assigned
    engineer); a stale `version` gets 409."""
    sr = ops.get_visible_request(request_id, current_user)
    version = args.pop("version")
    sr = ops.edit_details(sr, args, current_user, version)
    db.session.commit()
    return _detail(sr)


@blp.route("/requests/<int:request_id>/events")
@require(REQUESTS_READ)
@blp.response(200, RequestEventSchema(many=True))
def request_events(request_id):
    """The request's timeline, oldest first."""
    return ops.timeline(ops.get_visible_request(request_id, current_user))


def _action_view(action: str, schema):
    @require(REQUESTS_READ)
    @blp.arguments(schema)
    @blp.response(200, ServiceRequestDetailSchema)
    def view(args, request_id):
        sr = ops.get_visible_request(request_id, current_user)
        version = args.pop("version", None)
        sr = ops.perform(sr, action, current_user, version, **args)
        db.session.commit()
        return _detail(sr)

    view.__name__ = f"{action}_request"
    view.__doc__ = f"Take the action `{action}` (see the TRANSITIONS table: who, from which state, to which)."
    return view


for _action, _schema in ACTION_ARGS.items():
    blp.route(f"/requests/<int:request_id>/{_action}", methods=["POST"], endpoint=f"{_action}_request")(
        _action_view(_action, _schema)
    )


@blp.route("/requests/<int:request_id>/visits", methods=["POST"])
@require(REQUESTS_READ)
@blp.arguments(VisitArgs)
@blp.response(201, VisitSchema)
def record_visit(args, request_id):
    """The assigned engineer records a visit: resolved; unresolved -> awaiting (2nd time: locked)."""
    sr = ops.get_visible_request(request_id, current_user)
    version = args.pop("version", None)
    visit = ops.record_visit(sr, args, current_user, version)
    db.session.commit()
    return visit


@blp.route("/requests/<int:request_id>/visits")
@require(REQUESTS_READ)
@blp.response(200, VisitSchema(many=True))
def list_visits(request_id):
    sr = ops.get_visible_request(request_id, current_user)
    return db.session.scalars(
        sa.select(Visit).where(Visit.request_id == sr.id).options(selectinload(Visit.costs)).order_by(Visit.id)
    ).all()


@blp.route("/problem-types")
@require(REQUESTS_READ)
@blp.arguments(ProblemTypeQueryArgs, location="query")
@blp.response(200, ProblemTypeSchema(many=True))
def list_problem_types(args):
    """The managed list of problem types (active ones unless include_inactive)."""
    return ops.problem_types(active_only=not args["include_inactive"])


@blp.route("/problem-types", methods=["POST"])
@require(PROBLEM_TYPES_MANAGE)
@blp.arguments(ProblemTypeArgs)
@blp.response(201, ProblemTypeSchema)
def create_problem_type(args):
    problem_type = ops.create_problem_type(args, current_user)
    db.session.commit()
    return problem_type


@blp.route("/problem-types/<int:problem_type_id>", methods=["PATCH"])
@require(PROBLEM_TYPES_MANAGE)
@blp.arguments(ProblemTypeUpdateArgs)
@blp.response(200, ProblemTypeSchema)
def update_problem_type(args, problem_type_id):
    problem_type = db.session.get(ProblemType, problem_type_id)
    if problem_type is None:
        raise NotFound("not_found", f"No problem type with id {problem_type_id}.")
    problem_type = ops.update_problem_type(problem_type, args, current_user)
    db.session.commit()
    return problem_type


# ---- preventive maintenance


@blp.route("/maintenance/run", methods=["POST"])
@require(MAINTENANCE_RUN)
@blp.arguments(MaintenanceRunArgs)
@blp.response(200, MaintenanceRunSchema)
def run_maintenance(args):
    """Create the maintenance requests owed now (what the hourly job does); a second run creates none."""
    run = generate_maintenance(args["on"])
    db.session.commit()
    return run
