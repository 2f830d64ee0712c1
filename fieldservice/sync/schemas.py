"""What the sync API reads (XArgs, and the payload of each op type) and writes (XSchema)."""

import uuid

import marshmallow as ma
from marshmallow import validate

from fieldservice.appointments.schemas import AppointmentArgs
from fieldservice.customers.schemas import ContactSchema
from fieldservice.requests.schemas import (
    ACTION_ARGS,
    MAX_VISIT_PHOTOS,
    ActionArgs,
    CustomerBriefSchema,
    DetailChangesArgs,
    EquipmentBriefSchema,
    ItemLineArgs,
    RequestEventSchema,
    ServiceRequestSchema,
    VisitArgs,
    VisitSchema,
)

# The changes a phone can make offline; "visit" is kept as another name of "record_visit".
OP_TYPES = (
    "accept",
    "depart",
    "arrive",
    "hand_back",
    "claim",
    "urge",
    "note",
    "record_visit",
    "visit",
    "attach_photo",
    "visit_items",
    "resubmit",
    "appointment",
    "edit",
)
MAX_OPS = 1000


class OpIdField(ma.fields.String):
    """A UUID made by the phone, kept in its canonical lower-case form."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(text))
        except ValueError as exc:
            raise ma.ValidationError("Not a UUID.") from exc


class SyncOpArgs(ma.Schema):
    """One op of a batch. Only `op_id` is checked for the whole batch; the rest is checked op by op, so one
    bad op is rejected on its own (with its reason) instead of failing the batch."""

    class Meta:
        unknown = ma.EXCLUDE

    op_id = OpIdField(required=True)
    type = ma.fields.Raw(load_default=None)
    request_id = ma.fields.Raw(load_default=None)
    payload = ma.fields.Raw(load_default=None)
    client_time = ma.fields.Raw(load_default=None)


class SyncPushArgs(ma.Schema):
    # The phone's last pull cursor: echoed back once checked, so the phone keeps its place.
    since = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20000))
    ops = ma.fields.List(
        ma.fields.Nested(SyncOpArgs),
        required=True,
        validate=validate.Length(max=MAX_OPS, error="At most {max} ops."),
    )


class OpEnvelope(ma.Schema):
    """The part of an op every type shares, checked when the op is applied."""

    type = ma.fields.String(required=True, validate=validate.OneOf(OP_TYPES))
    request_id = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    payload = ma.fields.Dict(load_default=dict)
    client_time = ma.fields.AwareDateTime(load_default=None, allow_none=True)


def offline(action_args: type[ActionArgs]) -> type[ActionArgs]:
    """*action_args* with `version` optional, as a visit's is.

    A phone queues a job's steps (accept, depart, arrive...) offline one after the other: it cannot know the
    version each step will leave behind. What guards an offline step is the job still being the engineer's
    (job_reassigned) and the state machine; a phone that does send the version it read still gets 409.
    """
    return type(
        f"Offline{action_args.__name__}",
        (action_args,),
        {"version": ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))},
    )


class NotePayload(offline(ActionArgs)):
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class VisitPayload(VisitArgs):
    """API.md's visit body: parts, costs, and the photos and signature either uploaded beforehand in chunks (PUT
    /uploads/<id>) and named by id, or as data-URLs (the ops an earlier app version queued still carry those)."""

    class Meta:
        # The op's own id is the visit's idempotency key.
        exclude = ("client_op_id",)

    photo_ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=MAX_VISIT_PHOTOS),
    )
    signature_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))

    @ma.validates_schema
    def _each_image_one_way(self, data, **kwargs):
        errors = {}
        if data.get("photos") and data.get("photo_ids"):
            errors["photo_ids"] = ["Send the photos as photos or as photo_ids, not both."]
        elif len(set(data.get("photo_ids") or [])) != len(data.get("photo_ids") or []):
            errors["photo_ids"] = ["Each photo once."]
        if data.get("signature") and data.get("signature_id"):
            errors["signature_id"] = ["Send the signature as signature or as signature_id, not both."]
        if errors:
            raise ma.ValidationError(errors)


class PhotoPayload(ma.Schema):
    """A photo of the job outside a visit, uploaded beforehand through PUT /attachments/<attachment_id>."""

    attachment_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    caption = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class VisitItemsPayload(ma.Schema):
    """The repair items done on one of the job's visits (replacing what it had)."""

    visit_id = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(ItemLineArgs), required=True, validate=validate.Length(max=50))


class ResubmitPayload(ma.Schema):
    """A returned visit, corrected, sent back for verification; `version` is the verification's."""

    visit_id = ma.fields.Integer(required=True)
    version = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class AppointmentPayload(AppointmentArgs):
    """API.md's sync op `appointment`: {start, end, reason?, note?}, for the engineer's own job (no engineer_id);
    the version optional, as every offline step's."""

    class Meta:
        exclude = ("engineer_id",)

    version = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class EditPayload(ma.Schema):
    """The job's details the engineer changed offline (only those), and the job's version they were read at:
    merged by field (a field someone else changed since then is a conflict, the whole op refused)."""

    base_version = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    changes = ma.fields.Nested(DetailChangesArgs, required=True)


PAYLOADS: dict[str, type[ma.Schema]] = {
    "accept": offline(ACTION_ARGS["accept"]),
    "depart": offline(ACTION_ARGS["depart"]),
    "arrive": offline(ACTION_ARGS["arrive"]),
    "hand_back": offline(ACTION_ARGS["hand_back"]),
    "claim": offline(ACTION_ARGS["claim"]),
    "urge": offline(ACTION_ARGS["urge"]),
    "note": NotePayload,
    "record_visit": VisitPayload,
    "visit": VisitPayload,
    "attach_photo": PhotoPayload,
    "visit_items": VisitItemsPayload,
    "resubmit": ResubmitPayload,
    "appointment": AppointmentPayload,
    "edit": EditPayload,
}


# A field an `edit` op changed that someone else changed too since its base_version (OpenAPI schema).
CONFLICT_FIELD = {
    "type": "object",
    "properties": {
        "mine": {"type": "string", "nullable": True},
        "theirs": {"type": "string", "nullable": True},
        "by": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "version": {"type": "integer"},
    },
}


class OpErrorSchema(ma.Schema):
    code = ma.fields.String()
    message = ma.fields.String()
    advice = ma.fields.String()
    # {field: message}; for `conflict`, {field: {mine, theirs, by, at, version}}.
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Raw(metadata={"oneOf": [{"type": "string"}, CONFLICT_FIELD]})
    )
    # The earlier op of the same job whose refusal this one depends on.
    depends_on = ma.fields.String()
    # double_booked: the engineer's other job at that time, {id, number}.
    other_job = ma.fields.Dict()


class OpResultSchema(ma.Schema):
    op_id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["applied", "duplicate", "rejected"]})
    # For a duplicate: what became of the op the first time (a replayed rejection is still a rejection).
    original_status = ma.fields.String()
    error = ma.fields.Nested(OpErrorSchema)
    result = ma.fields.Dict()


class SyncPushSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(OpResultSchema))
    cursor = ma.fields.String(allow_none=True)


class SyncPullArgs(ma.Schema):
    since = ma.fields.String(load_default=None, validate=validate.Length(max=20000))
    # Whether the answer carries the reference data (van stock, problem types, repair items, returned visits,
    # statements): most of a pull's work when nothing changed. The phone asks for it every few minutes and after
    # sending ops; without the parameter it comes every time (what earlier versions of the app expect).
    reference = ma.fields.Boolean(load_default=True)


class JobCustomerSchema(CustomerBriefSchema):
    """The request's customer, with where to find them and whom to ask for on site."""

    lat = ma.fields.Float(allow_none=True)
    lng = ma.fields.Float(allow_none=True)
    contacts = ma.fields.List(ma.fields.Nested(ContactSchema(only=("name", "title", "phone"))))


# The visit fields the phone shows; the types are the request API's (VisitSchema), labour hours a number.
JOB_VISIT_FIELDS = (
    "id",
    "arrived_at",
    "finished_at",
    "labour_hours",
    "outcome",
    "fault_id",
    "fault",
    "cause",
    "solution",
    "signature_id",
    "costs",
    "photo_ids",
    "client_op_id",
)
HISTORY_VISIT_FIELDS = ("finished_at", "outcome", "engineer", "fault", "cause", "solution")
JOB_EVENT_FIELDS = ("id", "at", "actor", "action", "from_status", "to_status", "note")


class HistoryRequestSchema(ServiceRequestSchema):
    """An earlier request on the same equipment, with what each visit found and did."""

    class Meta:
        fields = ("id", "number", "created_at", "status", "problem_type", "description", "visits")

    visits = ma.fields.List(ma.fields.Nested(VisitSchema(only=HISTORY_VISIT_FIELDS)))


class JobEquipmentSchema(EquipmentBriefSchema):
    installed_on = ma.fields.Date(allow_none=True)
    warranty_until = ma.fields.Date(allow_none=True)
    under_warranty = ma.fields.Boolean()
    location = ma.fields.String(allow_none=True)
    history = ma.fields.List(ma.fields.Nested(HistoryRequestSchema))


class KnowledgeSolutionSchema(ma.Schema):
    summary = ma.fields.String()
    steps = ma.fields.List(ma.fields.String())


class KnowledgeCauseSchema(ma.Schema):
    description = ma.fields.String()
    solutions = ma.fields.List(ma.fields.Nested(KnowledgeSolutionSchema))


class KnowledgeHintSchema(ma.Schema):
    id = ma.fields.Integer()
    symptom = ma.fields.String()
    fault_code = ma.fields.String(allow_none=True)
    causes = ma.fields.List(ma.fields.Nested(KnowledgeCauseSchema))


class ProgressSchema(ma.Schema):
    accepted_at = ma.fields.AwareDateTime(allow_none=True)
    departed_at = ma.fields.AwareDateTime(allow_none=True)
    arrived_at = ma.fields.AwareDateTime(allow_none=True)


class JobSchema(ServiceRequestSchema):
    """A job with everything the engineer needs on site with no signal: the request's own fields as the request
    API has them, and what sync adds beside them."""

    class Meta:
        fields = (
            "id",
            "number",
            "status",
            "version",
            "priority",
            "service_category",
            "problem_type",
            "problem_type_label",
            "description",
            "contact_name",
            "contact_phone",
            "site_address",
            "engineer_note",
            "required_by",
            "response_due",
            "resolution_due",
            "assigned_at",
            "resolved_at",
            "urged",
            "visit_count",
            "unsolved_visit_count",
            "coverage",
            "customer",
            "product",
            "equipment",
            "progress",
            "timeline",
            "visits",
            "knowledge",
            "allowed_actions",
            "appointment",
            "customer_url",
            "updated_at",
        )

    problem_type_label = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    customer = ma.fields.Nested(JobCustomerSchema)
    equipment = ma.fields.Nested(JobEquipmentSchema, allow_none=True)
    progress = ma.fields.Nested(ProgressSchema)
    timeline = ma.fields.List(ma.fields.Nested(RequestEventSchema(only=JOB_EVENT_FIELDS)), attribute="events")
    visits = ma.fields.List(ma.fields.Nested(VisitSchema(only=JOB_VISIT_FIELDS)))
    knowledge = ma.fields.List(ma.fields.Nested(KnowledgeHintSchema))
    allowed_actions = ma.fields.List(ma.fields.String())
    # The request's current appointment (API.md), or null: the phone sorts the jobs by it.
    appointment = ma.fields.Dict(allow_none=True)
    # The customer's progress and report page (/r/<token>): the PWA draws its QR for the customer to scan on site.
    customer_url = ma.fields.String()


class SyncPullSchema(ma.Schema):
    jobs = ma.fields.List(ma.fields.Nested(JobSchema))
    removed = ma.fields.List(ma.fields.Integer())
    cursor = ma.fields.String()
    # The reference data (SyncPullArgs.reference), when asked for.
    reference = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.Dict()))


class PrimeSummarySchema(ma.Schema):
    as_of = ma.fields.AwareDateTime()
    # {kind: count}: the items the pages of each kind hold together.
    kinds = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    # A pull cursor from the moment of the summary: after priming, GET /sync?since=<cursor> brings what changed.
    cursor = ma.fields.String()


class PrimePageArgs(ma.Schema):
    # The `next` of the page before (opaque); none for the first page.
    after = ma.fields.String(load_default=None, validate=validate.Length(max=500))
    limit = ma.fields.Integer(load_default=200, validate=validate.Range(min=1, max=500))


class PrimePageSchema(ma.Schema):
    kind = ma.fields.String()
    items = ma.fields.List(ma.fields.Dict())
    # Give it as `after` for the next page; null on the last page.
    next = ma.fields.String(allow_none=True)
    # The kind's count now (as the summary gives it).
    total = ma.fields.Integer()


class AttachmentArgs(ma.Schema):
    request_id = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    kind = ma.fields.String(load_default="photo", validate=validate.OneOf(["photo", "signature"]))


class AttachmentSchema(ma.Schema):
    id = ma.fields.String()
    request_id = ma.fields.Integer()
    visit_id = ma.fields.Integer(allow_none=True)
    kind = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()
    sha256 = ma.fields.String()
    created_at = ma.fields.AwareDateTime()


class RenewSchema(ma.Schema):
    token = ma.fields.String()
    expires_at = ma.fields.AwareDateTime()
    user = ma.fields.Dict()


class UploadSchema(ma.Schema):
    """How far a chunked upload got: the phone sends the rest from `offset`; `attachment` once complete."""

    id = ma.fields.String()
    offset = ma.fields.Integer()
    size = ma.fields.Integer()
    complete = ma.fields.Boolean()
    attachment = ma.fields.Nested(AttachmentSchema, allow_none=True)
