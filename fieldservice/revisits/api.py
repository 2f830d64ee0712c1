"""The callback desk over JSON: the queue, failed attempts, unreachable closings, follow-ups.

The survey itself is POST /api/v1/requests/<id>/revisit (API.md), in the requests domain.
"""

from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.core.api import PageArgs, api_blueprint, page_of
from fieldservice.extensions import db
from fieldservice.requests.operations import get_visible_request
from fieldservice.revisits import operations as ops
from fieldservice.revisits.permissions import CALLBACK_QUEUE, FOLLOW_UPS
from fieldservice.revisits.schemas import (
    CallbackAttemptArgs,
    CallbackAttemptResultSchema,
    CallbackAttemptSchema,
    CallbackQueueArgs,
    CallbackQueueEntrySchema,
    CallbackUnreachableSchema,
    FollowUpCloseArgs,
    FollowUpQueryArgs,
    FollowUpSchema,
    SatisfactionArgs,
    SatisfactionSchema,
)

blp = api_blueprint("revisits_api", __name__, "Callback surveys: queue, contact attempts, follow-ups")


@blp.route("/revisits/queue")
@require(CALLBACK_QUEUE)
@blp.arguments(CallbackQueueArgs, location="query")
@blp.response(200)
def callback_queue(args):
    """Resolved requests waiting for their callback, oldest first, with due time, contacts and QR rating."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return page_of(ops.queue(**args), _QueueDump(), page, per_page)


class _QueueDump:
    """page_of dumps the page's rows: each request becomes its queue entry (attempts, rating: two queries)."""

    def dump(self, rows, many=True):
        return CallbackQueueEntrySchema().dump(ops.queue_entries(list(rows)), many=True)


@blp.route("/revisits/<int:request_id>/attempts")
@require(CALLBACK_QUEUE)
@blp.response(200, CallbackAttemptSchema(many=True))
def list_attempts(request_id):
    return ops.attempts_of(get_visible_request(request_id, current_user))


@blp.route("/revisits/<int:request_id>/attempts", methods=["POST"])
@require(CALLBACK_QUEUE)
@blp.arguments(CallbackAttemptArgs)
@blp.response(201, CallbackAttemptResultSchema)
def record_attempt(args, request_id):
    """A call that did not reach the customer; the last allowed one closes it as revisited-unreachable."""
    sr = get_visible_request(request_id, current_user)
    attempt, closing = ops.record_attempt(sr, args, current_user)
    db.session.commit()
    return {
        "attempt": attempt,
        "attempts": closing.attempts if closing else ops.current_round_attempts(sr),
        "max_attempts": ops.max_attempts(),
        "request_status": sr.status,
        "request_version": sr.version,
        "unreachable": closing is not None,
    }


@blp.route("/revisits/unreachable")
@require(CALLBACK_QUEUE)
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def list_unreachable(args):
    """Requests closed because the customer could not be reached, newest first."""
    return page_of(ops.unreachable_closings(), CallbackUnreachableSchema(), args["page"], args["per_page"])


@blp.route("/revisits/follow-ups")
@require(FOLLOW_UPS)
@blp.arguments(FollowUpQueryArgs, location="query")
@blp.response(200)
def list_follow_ups(args):
    """Managers' follow-ups of low survey scores (open by default)."""
    status = None if args["status"] == "all" else args["status"]
    return page_of(ops.follow_ups(status), FollowUpSchema(), args["page"], args["per_page"])


@blp.route("/revisits/follow-ups/<int:follow_up_id>/close", methods=["POST"])
@require(FOLLOW_UPS)
@blp.arguments(FollowUpCloseArgs)
@blp.response(200, FollowUpSchema)
def close_follow_up(args, follow_up_id):
    follow_up = ops.close_follow_up(ops.get_follow_up(follow_up_id), args, current_user)
    db.session.commit()
    return follow_up


@blp.route("/revisits/satisfaction")
@require(FOLLOW_UPS)
@blp.arguments(SatisfactionArgs, location="query")
@blp.response(200, SatisfactionSchema)
def satisfaction(args):
    """Surveys per engineer, product or month; closings without a survey (unreachable) are counted apart."""
    return {
        "by": args["by"],
        "rows": ops.satisfaction(args["by"], args["start"], args["end"]),
        "unreachable": ops.count_unreachable(args["start"], args["end"]),
    }
