"""The engineers' sync over JSON (API.md "Engineer sync"): push ops, pull changed jobs, upload images."""

from functools import wraps

from flask import request
from flask_login import current_user

from fieldservice.auth.operations import renew_token, token_expires_at
from fieldservice.auth.permissions import CONSOLE, check
from fieldservice.core.api import api_blueprint
from fieldservice.core.errors import Unauthorized
from fieldservice.core.guard import checks_items_itself
from fieldservice.core.models import commit_keeping_loaded
from fieldservice.extensions import db
from fieldservice.sync import operations as ops
from fieldservice.sync import priming
from fieldservice.sync.permissions import SYNC_USE
from fieldservice.sync.schemas import (
    AttachmentArgs,
    AttachmentSchema,
    PrimePageArgs,
    PrimePageSchema,
    PrimeSummarySchema,
    RenewSchema,
    SyncPullArgs,
    SyncPullSchema,
    SyncPushArgs,
    SyncPushSchema,
    UploadSchema,
)

blp = api_blueprint("sync_api", __name__, "Engineer sync: the PWA's offline changes and its copy of the jobs")


def bearer_only(permission: str = SYNC_USE):
    """Token only, checked before the body: a session cookie (and its CSRF token) would expire offline."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not request.headers.get("Authorization", "").startswith("Bearer "):
                raise Unauthorized("bearer_required", "Send the token as Authorization: Bearer <token>.")
            check(permission)
            return view(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator


@blp.route("/sync", methods=["POST"])
@checks_items_itself
@bearer_only()
@blp.arguments(SyncPushArgs)
@blp.response(200, SyncPushSchema)
def push(args):
    """Apply the phone's ops in order; each answers applied, duplicate or rejected (with why)."""
    if args["since"]:
        ops.read_cursor(args["since"])
    # The user itself, not the proxy: each op reads it several times.
    results = ops.apply_batch(current_user._get_current_object(), args["ops"])
    return {"results": results, "cursor": args["since"]}


@blp.route("/sync")
@bearer_only()
@blp.arguments(SyncPullArgs, location="query")
@blp.response(200, SyncPullSchema)
def pull(args):
    """The caller's jobs changed since the cursor, with all they need offline; jobs to drop; a cursor."""
    answer = ops.pull(current_user, args["since"], reference=args["reference"])
    # The van may have been made on first use; the jobs stay loaded for the answer (a plain commit would expire
    # them, and dumping them would read each again).
    commit_keeping_loaded()
    return answer


@blp.route("/sync/prime")
@bearer_only()
@blp.response(200, PrimeSummarySchema)
def prime_summary():
    """How many items of each kind the phone's offline set holds (jobs, appointments, history, stock,
    problem_types, repair_items, knowledge, parts), and a pull cursor from now."""
    return priming.summary(current_user)


@blp.route("/sync/prime/<kind>")
@bearer_only()
@blp.arguments(PrimePageArgs, location="query")
@blp.response(200, PrimePageSchema)
def prime_page(args, kind):
    """One page of a kind of the offline set, after the key `after` (the previous page's `next`)."""
    return priming.page(current_user, kind, args["after"], args["limit"])


@blp.route("/attachments/<attachment_id>", methods=["PUT"])
@bearer_only()
@blp.arguments(AttachmentArgs, location="query")
@blp.response(200, AttachmentSchema)
def put_attachment(args, attachment_id):
    """Upload a photo or signature under the id the phone made (the raw image as the body); idempotent."""
    attachment = ops.upload_attachment(
        current_user,
        attachment_id,
        args["request_id"],
        args["kind"],
        request.content_type,
        request.get_data(),
    )
    db.session.commit()
    return attachment


@blp.route("/auth/renew", methods=["POST"])
@bearer_only(CONSOLE)
@blp.response(200, RenewSchema)
def renew():
    """Swap a valid token for a fresh one of the same login: a phone that syncs now and then stays logged in, up
    to the login's absolute limit (then it logs in again)."""
    token = renew_token(request.headers["Authorization"][len("Bearer ") :].strip())
    return {
        "token": token,
        "expires_at": token_expires_at(token),
        "user": {"id": current_user.id, "username": current_user.username, "role": str(current_user.role)},
    }


@blp.route("/uploads/<upload_id>")
@bearer_only()
@blp.response(200, UploadSchema)
def get_upload(upload_id):
    """How many bytes of a chunked upload the server holds (0 for an unknown id), or that it is complete."""
    return ops.upload_state(current_user, upload_id)


@blp.route("/uploads/<upload_id>", methods=["PUT"])
@bearer_only()
@blp.arguments(AttachmentArgs, location="query")
@blp.response(200, UploadSchema)
def put_upload_chunk(args, upload_id):
    """One chunk of a photo or signature (`Content-Range: bytes first-last/total`, the image type as Content-Type);
    the last one makes the attachment under the phone's id. A chunk that does not start at the held offset gets 409
    `upload_offset` with `fields.offset`."""
    answer = ops.upload_chunk(
        current_user,
        upload_id,
        args["request_id"],
        args["kind"],
        request.content_type,
        request.headers.get("Content-Range"),
        request.get_data(),
    )
    db.session.commit()
    return answer
