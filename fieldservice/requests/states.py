"""The service-request state machine as data: one table used by the API, the console, jobs, sync and tests.

DOMAIN.md "The service request loop", rules 1-6. Each row of TRANSITIONS is
(action, from-states, to-state or None for "no change", roles, guard, when, requires, kind):
- `roles`: who may take the row; NOBODY is a call without a user (the customer's QR page, the sweep).
- `guard`: the name of a check on the actor that may refuse (operations.GUARDS), e.g. "the assigned engineer".
- `when`: the name of a condition on the request and the payload (operations.WHENS) choosing between rows of
  same action and state, e.g. revisit satisfied -> revisited, not satisfied -> awaiting_assignment.
- `requires`: payload fields the action needs.
- `kind`: "action" (POST /requests/<id>/<action>, console buttons), "visit" (record_visit), "system" (sweep),
  "desk" (taken only through another domain's operation, never an API action or a console button: the callback
  desk's `close_unreachable`, which revisits.operations.record_attempt takes after the last failed call).
- `effect`: the name of what the row changes besides the state, and what its timeline event carries
  (operations.EFFECTS), e.g. "take_engineer" for assign and claim; none when the new state is all.
"""

from flask_babel import lazy_gettext as _l

from fieldservice.auth.models import Role
from fieldservice.core.states import StateMachine, Transition, coded_note, coded_note_data, label_of
from fieldservice.core.states import transition as _t

AWAITING = "awaiting_assignment"
SUSPENDED = "suspended"
ASSIGNED = "assigned"
LOCKED = "locked"
RESOLVED = "resolved"
REVISITED = "revisited"
CANCELLED = "cancelled"

STATUSES = (AWAITING, SUSPENDED, ASSIGNED, LOCKED, RESOLVED, REVISITED, CANCELLED)
# DOMAIN.md's Chinese labels are the zh_Hans translations of these (requests catalog).
STATUS_LABELS = {
    AWAITING: _l("Awaiting assignment"),
    SUSPENDED: _l("Suspended"),
    ASSIGNED: _l("Assigned"),
    LOCKED: _l("Locked"),
    RESOLVED: _l("Resolved"),
    REVISITED: _l("Revisited"),
    CANCELLED: _l("Cancelled"),
}
# Work still to do on these; SLA clocks run on ACTIVE ones (a suspended request waits for the customer or
# parts).
OPEN = frozenset({AWAITING, SUSPENDED, ASSIGNED, LOCKED})
ACTIVE = frozenset({AWAITING, ASSIGNED, LOCKED})
CLOSED = frozenset({REVISITED, CANCELLED})

# A call with no logged-in user: the customer urging from the QR page, or the system's sweep.
NOBODY = "nobody"

ADMIN, MANAGER, DISPATCHER = str(Role.ADMIN), str(Role.MANAGER), str(Role.DISPATCHER)
ENGINEER, CALLBACK = str(Role.ENGINEER), str(Role.CALLBACK)
DISPATCH = frozenset({ADMIN, MANAGER, DISPATCHER})
MANAGE = frozenset({ADMIN, MANAGER})
ENGINEERS = frozenset({ENGINEER})
CALLBACKS = frozenset({CALLBACK, MANAGER, ADMIN})
EVERYONE = frozenset({ADMIN, MANAGER, DISPATCHER, ENGINEER, CALLBACK, NOBODY})
SYSTEM = frozenset({NOBODY})

ACTION_LABELS = {
    "create": _l("Request logged"),
    "assign": _l("Assign"),
    "suspend": _l("Suspend"),
    "resume": _l("Resume"),
    "unlock": _l("Unlock"),
    "cancel": _l("Cancel"),
    "claim": _l("Claim"),
    "urge": _l("Urge"),
    "revisit": _l("Record callback"),
    "accept": _l("Accept"),
    "depart": _l("Set off"),
    "arrive": _l("Arrive on site"),
    "hand_back": _l("Hand back"),
    "visit": _l("Visit recorded"),
    "lock": _l("Locked: no engineer by the required date"),
    "release": _l("Returned: not handled by the required date"),
    "response_breach": _l("Response time exceeded"),
    "resolution_breach": _l("Resolution time exceeded"),
    "callback_attempt": _l("Callback attempt: customer not reached"),
    "follow_up": _l("Low score followed up"),
    "close_unreachable": _l("Closed: customer unreachable"),
    "note": _l("Note"),
    "edit_details": _l("Details changed"),
    "photo": _l("Photo"),
    "customer_rating": _l("Customer rating"),
    "invoice_requested": _l("Invoice requested"),
    "part_request_apply": _l("Part request: applied"),
    "part_request_approve": _l("Part request: approved"),
    "part_request_reject": _l("Part request: rejected"),
    "part_request_ship": _l("Part request: shipped"),
    "part_request_sign": _l("Part request: signed for"),
    "part_request_cancel": _l("Part request: withdrawn"),
    "customer_link_revoked": _l("Customer link revoked, a new one issued"),
    "customer_link_sent": _l("New customer link sent to a number on record"),
    "customer_note": _l("Customer's note from the unit's QR page"),
}

# The details of a request its people edit after intake (the console's form, PATCH /requests/<id>, the phone's
# `edit` op), with their longest value; every change of one is recorded (RequestFieldChange).
EDITABLE_FIELDS = {"contact_name": 120, "contact_phone": 40, "site_address": 300, "engineer_note": 2000}
FIELD_LABELS = {
    "contact_name": _l("Contact name"),
    "contact_phone": _l("Contact phone"),
    "site_address": _l("Site address"),
    "engineer_note": _l("Engineer's note"),
}

# Notes the system writes on the timeline are stored as a code (event.data["note_code"]) with parameters
# (event.data["note_params"]) and worded here, in the reader's language when the page is read.
SYSTEM_NOTES = {
    "response_breach": _l("Not responded to by the response due time."),
    "resolution_breach": _l("Not resolved by the resolution due time."),
    "lock": _l("No engineer was assigned by the customer's required date."),
    "release": _l("The engineer did not handle it by the customer's required date."),
    "not_satisfied": _l("The customer is not satisfied."),
    "invoice_requested": _l("Invoice requested: %(amount)s"),
    "unreachable_after_attempts": _l(
        "Customer unreachable after %(attempts)s callback attempts; closed without a survey."
    ),
}
# The reason the callback desk gives close_unreachable after its last failed call (a system note, not a person's).
UNREACHABLE_AFTER_ATTEMPTS = "unreachable_after_attempts"
# Before notes were codes, the sweep stored these sentences: read them as their codes.
_LEGACY_NOTES = {
    "Not responded to by the response due time.": "response_breach",
    "Not resolved by the resolution due time.": "resolution_breach",
    "No engineer was assigned by the customer's required date.": "lock",
    "The engineer did not handle it by the customer's required date.": "release",
    "The customer is not satisfied.": "not_satisfied",
}

# What the three rows of a visit share: the assigned engineer records it (record_visit), the visit is counted.
_VISIT = {"guard": "assigned_engineer", "kind": "visit", "effect": "visit"}

TRANSITIONS: tuple[Transition, ...] = (
    # Rule 2: assigning moves it to assigned; a locked request is the manager's (rule 3).
    _t("assign", {AWAITING}, ASSIGNED, DISPATCH, requires=("engineer_id",), effect="take_engineer"),
    _t("assign", {LOCKED}, ASSIGNED, MANAGE, requires=("engineer_id",), effect="take_engineer"),
    _t("claim", {AWAITING}, ASSIGNED, ENGINEERS, guard="has_skill", effect="take_engineer"),
    # Rule 1: suspended <-> awaiting_assignment.
    _t("suspend", {AWAITING}, SUSPENDED, DISPATCH),
    _t("resume", {SUSPENDED}, AWAITING, DISPATCH),
    _t("unlock", {LOCKED}, AWAITING, MANAGE, requires=("reason",)),
    _t("cancel", {AWAITING, SUSPENDED, ASSIGNED}, CANCELLED, DISPATCH, requires=("reason",), effect="cancel"),
    _t("cancel", {LOCKED}, CANCELLED, MANAGE, requires=("reason",), effect="cancel"),
    _t("urge", OPEN, None, EVERYONE, effect="urge"),
    # The engineer's progress on site: timeline events, no change of state.
    _t("accept", {ASSIGNED}, None, ENGINEERS, guard="assigned_engineer", effect="respond"),
    _t("depart", {ASSIGNED}, None, ENGINEERS, guard="assigned_engineer"),
    _t("arrive", {ASSIGNED}, None, ENGINEERS, guard="assigned_engineer", effect="arrive"),
    _t("hand_back", {ASSIGNED}, AWAITING, ENGINEERS, guard="assigned_engineer", requires=("reason",)),
    # Rule 5: the callback survey closes the loop or runs it again.
    _t("revisit", {RESOLVED}, REVISITED, CALLBACKS, when="satisfied", requires=("satisfied",), effect="survey"),
    _t("revisit", {RESOLVED}, AWAITING, CALLBACKS, when="not_satisfied", requires=("satisfied",), effect="survey"),
    # Rule 5 when the customer cannot be reached: closed without a survey, the reason on the timeline.
    _t("close_unreachable", {RESOLVED}, REVISITED, CALLBACKS, requires=("reason",), kind="desk", effect="unreached"),
    # Rule 4 and 3b: the visit's outcome.
    _t("visit", {ASSIGNED}, RESOLVED, ENGINEERS, when="solved", **_VISIT),
    _t("visit", {ASSIGNED}, LOCKED, ENGINEERS, when="unsolved_again", **_VISIT),
    _t("visit", {ASSIGNED}, AWAITING, ENGINEERS, when="unsolved", **_VISIT),
    # The sweep (time rules): 3a, 4 and the SLA flags.
    _t("lock", {AWAITING}, LOCKED, SYSTEM, kind="system", effect="lock"),
    _t("release", {ASSIGNED}, AWAITING, SYSTEM, kind="system", effect="release"),
    _t("response_breach", ACTIVE, None, SYSTEM, kind="system", effect="response_breach"),
    _t("resolution_breach", ACTIVE, None, SYSTEM, kind="system", effect="resolution_breach"),
)

MACHINE = StateMachine(TRANSITIONS)
ACTIONS = MACHINE.actions
transitions_for = MACHINE.transitions_for
roles_for = MACHINE.roles_for
# Leaving for these states the engineer lets go of the job.
UNOWNED = frozenset({AWAITING, SUSPENDED, LOCKED})
# Rules 3a and 4 are about the required date: once it has passed in another state they no longer apply, except
# across a suspension, which only pauses the request.
KEEPS_DEADLINE = frozenset({"suspend", "resume"})


def status_label(status: str) -> str:
    return label_of(STATUS_LABELS, status)


def add_action_labels(labels: dict) -> None:
    """Label the timeline entries a higher domain adds to requests (appointments): they show beside the loop's."""
    for action, label in labels.items():
        ACTION_LABELS.setdefault(action, label)


def action_label(action: str) -> str:
    return label_of(ACTION_LABELS, action)


def note_data(code: str, **params) -> dict:
    """The data that makes a timeline entry's note the system note *code* (SYSTEM_NOTES), with its parameters."""
    return coded_note_data(SYSTEM_NOTES, code, **params)


def event_note(event) -> str | None:
    return coded_note(event, SYSTEM_NOTES, _LEGACY_NOTES)
