"""Appointments and the schedule over JSON (API.md "Appointments and the schedule")."""

import json

from flask import Response, current_app
from flask_login import current_user

from fieldservice.appointments import operations as ops
from fieldservice.appointments.permissions import APPOINTMENTS_BOOK, SCHEDULE_READ
from fieldservice.appointments.schedule import schedule_data
from fieldservice.appointments.schemas import AppointmentArgs, BookedRequestSchema, ScheduleArgs
from fieldservice.auth.permissions import require
from fieldservice.core.api import api_blueprint
from fieldservice.extensions import db
from fieldservice.requests.operations import allowed_actions, get_visible_request

blp = api_blueprint("appointments_api", __name__, "Appointments with the customer and the engineers' schedule")


@blp.route("/requests/<int:request_id>/appointment", methods=["POST"])
@require(APPOINTMENTS_BOOK)
@blp.arguments(AppointmentArgs)
@blp.response(200, BookedRequestSchema)
def book_appointment(args, request_id):
    """Book or change the request's visit window; with `engineer_id` on an unassigned request, assign too."""
    sr = get_visible_request(request_id, current_user)
    version = args.pop("version")
    sr, warnings = ops.book_appointment(sr, args, current_user, version)
    db.session.commit()
    sr.actions = allowed_actions(sr, current_user)
    sr.warnings = warnings
    return sr


@blp.route("/schedule")
@require(SCHEDULE_READ)
@blp.arguments(ScheduleArgs, location="query")
@blp.response(200)
def schedule(args):
    """The engineers' days: shifts, leave and appointments, and the requests still without a window."""
    data = schedule_data(args["date"], args["days"], zone=args["zone"], skill=args["skill"])
    # Half a megabyte for a big team: written compact, Chinese as it is (not \u escapes) and keys unsorted.
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=current_app.json.default)
    return Response(body, mimetype="application/json")
