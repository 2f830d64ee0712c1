"""The API error format of API.md, in one place.

{"error": {"code": "<machine_word>", "message": "<human sentence>", "fields": {...}}}
"""

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from fieldservice.extensions import db


class ApiError(Exception):
    """An expected refusal: raised by operations, rendered by the API (JSON) or the console (flash/form)."""

    status = 400

    def __init__(self, code: str, message: str, fields: dict | None = None, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """An illegal transition or a stale version (409)."""

    status = 409


class ValidationFailed(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, code: str, message: str, fields: dict | None = None, retry_after: int | None = None, **extra):
        super().__init__(code, message, fields, **extra)
        # Seconds until the limit that refused lets the client try again (the Retry-After header).
        self.retry_after = retry_after


_DEFAULT_CODES = {
    400: ("malformed_request", "The request could not be understood."),
    401: ("not_logged_in", "Log in first: send a valid bearer token."),
    403: ("forbidden", "Your role does not allow this."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed here."),
    409: ("conflict", "The request conflicts with the current state."),
    413: ("too_large", "The request body is too large."),
    414: ("uri_too_long", "The address is too long."),
    415: ("unsupported_media_type", "Send JSON (Content-Type: application/json)."),
    422: ("validation_failed", "Some fields are not valid."),
    429: ("too_many_requests", "Too many attempts; wait a few minutes."),
    431: ("headers_too_large", "The request's headers are too large."),
}


def error_body(
    status: int, code: str | None = None, message: str | None = None, fields=None, **extra
) -> dict:
    default_code, default_message = _DEFAULT_CODES.get(status, ("error", "The request failed."))
    body = {"code": code or default_code, "message": message or default_message, "fields": fields or {}}
    body.update(extra)
    return {"error": body}


def flatten_messages(messages, prefix: str = "") -> dict[str, str]:
    """Turn marshmallow's nested messages into {"parts.0.qty": "message"}."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "_schema"
            flat.update(flatten_messages(value, name))
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "_schema"] = " ".join(messages)
        else:
            for i, value in enumerate(messages):
                flat.update(flatten_messages(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        flat[prefix or "_schema"] = str(messages)
    return flat


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def wants_json() -> bool:
    """Whether the client is an API client: an /api/ path, or JSON is what it asks for first."""
    return is_api_request() or request.accept_mimetypes.best == "application/json"


# What a 429 asks the client to wait, in seconds: the longest window of the limits that answer it.
RETRY_AFTER_SECONDS = 600


def _json_error(status: int, retry_after: int | None = None, **kwargs):
    response = jsonify(error_body(status, **kwargs))
    response.status_code = status
    if status == 429:
        response.headers["Retry-After"] = str(retry_after or RETRY_AFTER_SECONDS)
    return response


def _handle_api_error(exc: ApiError):
    db.session.rollback()
    retry_after = getattr(exc, "retry_after", None)
    if wants_json():
        return _json_error(
            exc.status, retry_after, code=exc.code, message=exc.message, fields=exc.fields, **exc.extra
        )
    headers = {"Retry-After": str(retry_after or RETRY_AFTER_SECONDS)} if exc.status == 429 else {}
    return render_template("core/error.html", status=exc.status, message=exc.message), exc.status, headers


def _handle_http_exception(exc: HTTPException):
    # The headers the exception carries (Allow on a 405) go with whatever body answers it.
    kept = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
    # Outside /api/, a client that asks for JSON gets its refusals as JSON too (an oversized request to a
    # public page from a script, say); the console's redirects and log-in prompt stay as they are.
    json_client = wants_json() and (exc.code or 500) >= 400 and exc.code != 401
    if not is_api_request() and not json_client:
        if exc.code and exc.code >= 400 and exc.code != 401:
            if exc.code == 429:
                kept.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
            page = render_template("core/error.html", status=exc.code, message=exc.description)
            return page, exc.code, kept
        return exc
    status = exc.code or 500
    fields = {}
    message = None
    code = None
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if status == 400 and messages:
        code, message = "malformed_json", "The request body is not valid JSON."
    elif status == 422 and messages:
        # webargs nests by location ({"json": {...}, "query": {...}}); the field names are what matter.
        merged = {}
        for location_messages in messages.values():
            if isinstance(location_messages, dict):
                merged.update(location_messages)
            else:
                merged.setdefault("_schema", location_messages)
        fields = flatten_messages(merged)
        message = "Some fields are not valid: " + ", ".join(sorted(fields)) + "."
    response = _json_error(status, code=code, message=message, fields=fields)
    response.headers.extend(kept)
    return response


def _handle_stale(exc: StaleDataError):
    db.session.rollback()
    if is_api_request():
        return _json_error(
            409, code="stale_version", message="Someone else changed this record meanwhile; reload it."
        )
    return render_template(
        "core/error.html", status=409, message="Someone else changed this record meanwhile; reload it."
    ), 409


INVALID_VALUE = "A value is out of range or not allowed for its field; nothing was changed."


def _handle_data_error(exc: DataError):
    # What the database refused as a value (an id beyond its integer range in a query string, say): the input's
    # fault, not the server's. The transaction is rolled back whole.
    db.session.rollback()
    if wants_json():
        return _json_error(422, code="invalid_value", message=INVALID_VALUE)
    return render_template("core/error.html", status=422, message=INVALID_VALUE), 422


SAVED_MEANWHILE = "Someone else saved the same record at the same moment; nothing was changed. Reload and try again."


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a row because another has the same unique key (PostgreSQL's SQLSTATE 23505,
    SQLite's UNIQUE constraint), rather than for a missing or wrong value."""
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return sqlstate == "23505"
    return getattr(exc.orig, "sqlite_errorname", None) in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def _handle_integrity_error(exc: IntegrityError):
    # Two writers that both looked for the key before either inserted it: the operations check first, so only a
    # race gets here. The loser's transaction is rolled back whole. Any other refusal is a fault of ours (500).
    db.session.rollback()
    if not is_unique_violation(exc):
        raise exc
    if wants_json():
        return _json_error(409, code="conflict", message=SAVED_MEANWHILE)
    return render_template("core/error.html", status=409, message=SAVED_MEANWHILE), 409


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(StaleDataError, _handle_stale)
    app.register_error_handler(DataError, _handle_data_error)
    app.register_error_handler(IntegrityError, _handle_integrity_error)
