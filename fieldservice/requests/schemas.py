"""What the requests API reads (XArgs) and writes (XSchema)."""

import datetime as dt

import marshmallow as ma
from marshmallow import validate

from fieldservice.core.api import PageArgs
from fieldservice.core.clock import site_zone
from fieldservice.core.fields import DecimalString, Money
from fieldservice.core.states import event_actor
from fieldservice.requests.operations import CHANNELS, end_of_day
from fieldservice.requests.signals import appointments_of
from fieldservice.requests.states import EDITABLE_FIELDS, STATUSES, action_label, event_note, status_label


class SiteDateTime(ma.fields.AwareDateTime):
    """An ISO date-time; without an offset it is site time, and a bare date means the end of that day."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                return end_of_day(dt.date.fromisoformat(value.strip()))
            except ValueError as exc:
                raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from exc
        # The site's zone read per call, not stored on the field: one schema instance serves every request.
        parsed = ma.fields.DateTime._deserialize(self, value, attr, data, **kwargs)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=site_zone())


class NamedSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class CustomerBriefSchema(NamedSchema):
    phone = ma.fields.String()
    address = ma.fields.String()
    zone = ma.fields.String(allow_none=True)


class ProductBriefSchema(NamedSchema):
    model = ma.fields.String()
    category = ma.fields.String()


class EquipmentBriefSchema(ma.Schema):
    id = ma.fields.Integer()
    serial_number = ma.fields.String()


class ServiceRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    status_label = ma.fields.Function(lambda sr: status_label(sr.status))
    version = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    customer = ma.fields.Nested(CustomerBriefSchema)
    product_id = ma.fields.Integer(allow_none=True)
    product = ma.fields.Nested(ProductBriefSchema, allow_none=True)
    equipment_id = ma.fields.Integer(allow_none=True)
    equipment = ma.fields.Nested(EquipmentBriefSchema, allow_none=True)
    service_category = ma.fields.String()
    problem_type = ma.fields.String()
    description = ma.fields.String()
    priority = ma.fields.Integer()
    channel = ma.fields.String()
    contact_name = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    site_address = ma.fields.String(allow_none=True)
    engineer_note = ma.fields.String(allow_none=True)
    required_by = ma.fields.AwareDateTime()
    response_due = ma.fields.AwareDateTime()
    resolution_due = ma.fields.AwareDateTime()
    engineer_id = ma.fields.Integer(allow_none=True)
    engineer = ma.fields.Nested(NamedSchema, allow_none=True)
    assigned_at = ma.fields.AwareDateTime(allow_none=True)
    visit_count = ma.fields.Integer()
    unsolved_visit_count = ma.fields.Integer()
    urged = ma.fields.Boolean()
    urge_count = ma.fields.Integer()
    response_breached = ma.fields.Boolean()
    resolution_breached = ma.fields.Boolean()
    responded_at = ma.fields.AwareDateTime(allow_none=True)
    resolved_at = ma.fields.AwareDateTime(allow_none=True)
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    agreement_id = ma.fields.Integer(allow_none=True)
    coverage = ma.fields.String()
    cancel_reason = ma.fields.String(allow_none=True)
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class ServiceRequestDetailSchema(ServiceRequestSchema):
    # What the caller may do now (set by the handler from operations.allowed_actions).
    actions = ma.fields.List(ma.fields.String())
    # {start, end, status, engineer_id, reschedules} of the current appointment (API.md), or null.
    appointment = ma.fields.Function(lambda sr: appointments_of([sr.id]).get(sr.id), allow_none=True)


class RequestArgs(ma.Schema):
    customer_id = ma.fields.Integer(required=True)
    product_id = ma.fields.Integer(load_default=None, allow_none=True)
    equipment_id = ma.fields.Integer(load_default=None, allow_none=True)
    problem_type = ma.fields.String(required=True, validate=validate.Length(min=1, max=40))
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=4000))
    priority = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=4))
    required_by = SiteDateTime(required=True)
    channel = ma.fields.String(load_default="phone", validate=validate.OneOf(CHANNELS))
    suspended = ma.fields.Boolean(load_default=False)
    service_category = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=80))
    contact_name = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    contact_phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


def _statuses(value: str) -> list[str]:
    statuses = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise ma.ValidationError(f"Unknown status: {', '.join(unknown)}.")
    return statuses


class StatusList(ma.fields.String):
    """One status or several, comma-separated."""

    def _deserialize(self, value, attr, data, **kwargs):
        return _statuses(super()._deserialize(value, attr, data, **kwargs))


class RequestQueryArgs(PageArgs):
    status = StatusList(load_default=None)
    engineer_id = ma.fields.Integer(load_default=None)
    customer_id = ma.fields.Integer(load_default=None)
    q = ma.fields.String(load_default=None, validate=validate.Length(max=200))
    overdue = ma.fields.Boolean(load_default=None)
    priority = ma.fields.Integer(load_default=None, validate=validate.Range(min=1, max=4))
    zone = ma.fields.String(load_default=None, validate=validate.Length(max=60))
    # Unset: the best matches of `q` first when there is one, else by the customer's required date ("due").
    sort = ma.fields.String(
        load_default=None,
        validate=validate.OneOf(["due", "response_due", "priority", "created", "-created"]),
    )


class RequestEventSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    actor = ma.fields.Function(event_actor)
    actor_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    action_label = ma.fields.Function(lambda e: action_label(e.action))
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    note = ma.fields.Function(event_note, allow_none=True)
    data = ma.fields.Dict(allow_none=True)


# ---- actions: every body carries the `version` the caller read (API.md: an older one gets 409). Internal
# callers (sync, auto-dispatch, the customer's QR urge) go through operations, where it stays optional.


class ActionArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))


_reason = validate.Length(min=1, max=500)


class AssignArgs(ActionArgs):
    engineer_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class OptionalReasonArgs(ActionArgs):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ReasonArgs(ActionArgs):
    reason = ma.fields.String(required=True, validate=_reason)


class NoteArgs(ActionArgs):
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class DetailText(ma.fields.String):
    """A detail's new text, trimmed, at most *max_length* characters; empty clears it (null)."""

    def __init__(self, max_length: int, **kwargs):
        super().__init__(allow_none=True, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if len(text) > self.max_length:
            raise ma.ValidationError(f"Longer than maximum length {self.max_length}.")
        return text or None


class DetailChangesArgs(ma.Schema):
    """The request's editable details (states.EDITABLE_FIELDS), only those sent; null or "" clears one."""

    contact_name = DetailText(EDITABLE_FIELDS["contact_name"])
    contact_phone = DetailText(EDITABLE_FIELDS["contact_phone"])
    site_address = DetailText(EDITABLE_FIELDS["site_address"])
    engineer_note = DetailText(EDITABLE_FIELDS["engineer_note"])

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Send at least one of: " + ", ".join(EDITABLE_FIELDS) + ".", "_schema")


class RequestEditArgs(ActionArgs, DetailChangesArgs):
    """PATCH /requests/<id>: some details and the version read (a stale one is refused, 409)."""

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not set(data) - {"version"}:
            raise ma.ValidationError("Send at least one of: " + ", ".join(EDITABLE_FIELDS) + ".", "_schema")


class ScoresArgs(ma.Schema):
    timeliness = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=5))
    attitude = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=5))
    quality = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=5))


class RevisitArgs(ActionArgs):
    satisfied = ma.fields.Boolean(required=True)
    scores = ma.fields.Nested(ScoresArgs, load_default=dict)
    comment = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


ACTION_ARGS: dict[str, type[ActionArgs]] = {
    "assign": AssignArgs,
    "suspend": OptionalReasonArgs,
    "resume": OptionalReasonArgs,
    "unlock": ReasonArgs,
    "cancel": ReasonArgs,
    "claim": ActionArgs,
    "urge": NoteArgs,
    "revisit": RevisitArgs,
    "accept": NoteArgs,
    "depart": NoteArgs,
    "arrive": NoteArgs,
    "hand_back": ReasonArgs,
}


# ---- visits


class PartLineArgs(ma.Schema):
    part_id = ma.fields.Integer(required=True)
    qty = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=10000))
    old_serial = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    new_serial = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))


class CostLineArgs(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = Money(required=True, validate=validate.Range(min=0, max=10_000_000))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))


class ItemLineArgs(ma.Schema):
    """A repair item done on the visit (the settlement domain records it through visit_recorded)."""

    repair_item_id = ma.fields.Integer(required=True)
    quantity = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))


# The photos one visit carries, however they travel (data-URLs in the body, or uploaded beforehand).
MAX_VISIT_PHOTOS = 20


class VisitArgs(ma.Schema):
    version = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    outcome = ma.fields.String(required=True, validate=validate.OneOf(["resolved", "unresolved"]))
    arrived_at = SiteDateTime(required=True)
    finished_at = SiteDateTime(required=True)
    labour_hours = DecimalString(required=True, places=2, validate=validate.Range(min=0, max=1000))
    fault_id = ma.fields.Integer(load_default=None, allow_none=True)
    fault = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    cause = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    solution = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    parts = ma.fields.List(ma.fields.Nested(PartLineArgs), load_default=list)
    costs = ma.fields.List(ma.fields.Nested(CostLineArgs), load_default=list)
    items = ma.fields.List(ma.fields.Nested(ItemLineArgs), load_default=list, validate=validate.Length(max=50))
    signature = ma.fields.String(load_default=None, allow_none=True)
    photos = ma.fields.List(ma.fields.String(), load_default=list, validate=validate.Length(max=MAX_VISIT_PHOTOS))
    client_op_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))

    @ma.validates_schema
    def _finished_after_arrival(self, data, **kwargs):
        arrived, finished = data.get("arrived_at"), data.get("finished_at")
        if arrived and finished and finished < arrived:
            raise ma.ValidationError("Finished before arriving.", "finished_at")


class VisitCostSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    amount = ma.fields.Float()
    note = ma.fields.String(allow_none=True)


class VisitSchema(ma.Schema):
    id = ma.fields.Integer()
    request_id = ma.fields.Integer()
    engineer_id = ma.fields.Integer()
    engineer = ma.fields.Nested(NamedSchema)
    arrived_at = ma.fields.AwareDateTime()
    finished_at = ma.fields.AwareDateTime()
    labour_hours = ma.fields.Float()
    fault_id = ma.fields.Integer(allow_none=True)
    fault = ma.fields.String(allow_none=True)
    cause = ma.fields.String(allow_none=True)
    solution = ma.fields.String(allow_none=True)
    outcome = ma.fields.String()
    signature_id = ma.fields.String(allow_none=True)
    photo_ids = ma.fields.Function(lambda v: [p.id for p in v.photos])
    costs = ma.fields.List(ma.fields.Nested(VisitCostSchema))
    created_by_id = ma.fields.Integer(allow_none=True)
    client_op_id = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()


# ---- problem types


class ProblemTypeSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    sort_order = ma.fields.Integer()
    version = ma.fields.Integer()


class ProblemTypeArgs(ma.Schema):
    code = ma.fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=40),
            validate.Regexp(r"^[a-z0-9_]+$", error="Lowercase letters, digits, _."),
        ],
    )
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    category = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    active = ma.fields.Boolean(load_default=True)
    sort_order = ma.fields.Integer(load_default=0)


class ProblemTypeUpdateArgs(ma.Schema):
    version = ma.fields.Integer(required=True)
    name_zh = ma.fields.String(validate=validate.Length(min=1, max=80))
    name_en = ma.fields.String(validate=validate.Length(min=1, max=80))
    category = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    active = ma.fields.Boolean()
    sort_order = ma.fields.Integer()


class ProblemTypeQueryArgs(ma.Schema):
    include_inactive = ma.fields.Boolean(load_default=False)


class MaintenanceRunSchema(ma.Schema):
    created = ma.fields.Integer()
    skipped = ma.fields.Integer()
    request_ids = ma.fields.List(ma.fields.Integer())


class MaintenanceRunArgs(ma.Schema):
    on = ma.fields.Date(load_default=None, allow_none=True)
