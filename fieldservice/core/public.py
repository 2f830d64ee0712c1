"""Posts to the public pages (no login: the customer's page, later the equipment's page): the same handler serves
the page's form, which answers with a flash and a redirect back, and a JSON client, which gets the API's error
format. One body reader and one way to answer, so each public action is only its rule."""

from collections.abc import Callable

from flask import flash, redirect, request
from flask_babel import gettext as _

from fieldservice.core.errors import ApiError, BadRequest
from fieldservice.extensions import db


def wants_json() -> bool:
    """A JSON client: it sent JSON or asks for it first (a browser's form post does neither)."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def read_body() -> dict:
    """The posted fields: a JSON object, or the form. A JSON body that is not an object is a 400."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("malformed_json", "The request body is not valid JSON.")
        return data
    return request.form


def json_error(status: int, code: str, message: str, fields=None):
    return {"error": {"code": code, "message": message, "fields": fields or {}}}, status


def public_post(run: Callable[[dict], object], back: str, answer: Callable[[object], dict], thanks: str, status=200):
    """Run *run(body)* and commit; JSON clients get *answer(result)* with *status*, a page's form gets *thanks*
    flashed and a redirect to *back*. A refusal (ApiError) changes nothing and is answered the same two ways."""
    try:
        result = run(read_body())
    except ApiError as exc:
        db.session.rollback()
        if wants_json():
            return json_error(exc.status, exc.code, exc.message, exc.fields)
        flash(_(exc.message), "error")
        return redirect(back)
    db.session.commit()
    if wants_json():
        return answer(result), status
    flash(thanks, "success")
    return redirect(back)
