"""The complaint state machine as data: logged -> assigned -> in handling -> closed (and reopened).

Each row of TRANSITIONS is (action, from-states, to-state or None for "no change", roles, guard,
requires, kind):
- `roles`: who may take the row; NOBODY is the system (the sweep's escalation).
- `guard`: a check on the actor (operations.GUARDS), e.g. "the handler or a manager".
- `requires`: payload fields the action needs.
"""

from flask_babel import lazy_gettext as _l

from fieldservice.auth.models import Role
from fieldservice.core.states import StateMachine, Transition, coded_note, coded_note_data, label_of
from fieldservice.core.states import transition as _t

OPEN = "open"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
CLOSED = "closed"

STATUSES = (OPEN, ASSIGNED, IN_PROGRESS, CLOSED)
STATUS_LABELS = {
    OPEN: _l("Awaiting a handler"),
    ASSIGNED: _l("Assigned to a handler"),
    IN_PROGRESS: _l("Being handled"),
    CLOSED: _l("Closed"),
}
UNCLOSED = frozenset({OPEN, ASSIGNED, IN_PROGRESS})

NOBODY = "nobody"
ADMIN, MANAGER, DISPATCHER, CALLBACK = (
    str(Role.ADMIN),
    str(Role.MANAGER),
    str(Role.DISPATCHER),
    str(Role.CALLBACK),
)
# Who logs, reads and handles complaints; engineers are often what a complaint is about, so they are not here.
DESK = frozenset({ADMIN, MANAGER, DISPATCHER, CALLBACK})
MANAGE = frozenset({ADMIN, MANAGER})
SYSTEM = frozenset({NOBODY})

TYPES = {
    "attitude": _l("Service attitude"),
    "quality": _l("Repair quality"),
    "timeliness": _l("Late or slow service"),
    "billing": _l("Charges and billing"),
    "parts": _l("Spare parts"),
    "product": _l("Product quality"),
    "other": _l("Other"),
}
SEVERITIES = {
    "low": _l("Minor"),
    "medium": _l("Moderate"),
    "high": _l("Serious"),
    "critical": _l("Critical"),
}
# Hours to close a complaint by severity (FIELDSERVICE_COMPLAINT_DUE_HOURS overrides); missed -> escalated.
DUE_HOURS = {"low": 7 * 24, "medium": 72, "high": 24, "critical": 4}
CHANNELS = {
    "phone": _l("Phone"),
    "web": _l("Web"),
    "wechat": _l("WeChat"),
    "email": _l("E-mail"),
    "walk_in": _l("In person"),
    "callback": _l("Callback survey"),
    "qr": _l("Customer's QR page"),
    "other": _l("Other"),
}
# The kinds of handling step recorded on the timeline with the `act` action.
ACTION_KINDS = {
    "call": _l("Called the customer"),
    "visit": _l("Visited the customer"),
    "investigation": _l("Investigated"),
    "compensation": _l("Compensation offered"),
    "note": _l("Note"),
}

ACTION_LABELS = {
    "create": _l("Complaint logged"),
    "assign": _l("Assign handler"),
    "start": _l("Start handling"),
    "act": _l("Record a handling step"),
    "close": _l("Close"),
    "reopen": _l("Reopen"),
    "escalate": _l("Escalated: due time missed"),
}

# The notes the system writes, stored as codes (core.states.coded_note) and worded when read.
SYSTEM_NOTES = {"overdue": _l("Not closed by its due time.")}
_LEGACY_NOTES = {"Not closed by its due time.": "overdue"}


def note_data(code: str) -> dict:
    return coded_note_data(SYSTEM_NOTES, code)


def action_note(action) -> str | None:
    return coded_note(action, SYSTEM_NOTES, _LEGACY_NOTES)


TRANSITIONS: tuple[Transition, ...] = (
    _t("assign", {OPEN, ASSIGNED}, ASSIGNED, DESK - {CALLBACK}, requires=("handler_id",)),
    # Handing over a complaint already in handling keeps it in handling.
    _t("assign", {IN_PROGRESS}, None, DESK - {CALLBACK}, requires=("handler_id",)),
    _t("start", {ASSIGNED}, IN_PROGRESS, DESK, guard="handler_or_manager"),
    _t("act", {ASSIGNED, IN_PROGRESS}, None, DESK, guard="handler_or_manager", requires=("kind", "note")),
    _t(
        "close",
        {IN_PROGRESS},
        CLOSED,
        DESK,
        guard="handler_or_manager",
        requires=("outcome", "customer_feedback"),
    ),
    _t("reopen", {CLOSED}, IN_PROGRESS, MANAGE, requires=("reason",)),
    _t("escalate", UNCLOSED, None, SYSTEM, kind="system"),
)

MACHINE = StateMachine(TRANSITIONS)
ACTIONS = MACHINE.actions
transitions_for = MACHINE.transitions_for
roles_for = MACHINE.roles_for
label = label_of
