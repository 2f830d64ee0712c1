"""What the parts sub-modules share: the acting user, the site's date, document numbers, the 422 error and the
steps of the state machines (states.*_TRANSITIONS). The rules themselves live in the sub-modules (see the
package docstring)."""

from fieldservice.auth.models import Role
from fieldservice.auth.permissions import can
from fieldservice.core import numbering
from fieldservice.core.clock import today
from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version

# --- small helpers ------------------------------------------------------------------------------------------


def actor_name(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "display_name", None) or getattr(actor, "username", "") or "system"


def actor_id(actor) -> int | None:
    return getattr(actor, "id", None)


def next_number(prefix: str) -> str:
    """PREFIX-YYYYMMDD-NNNN, unique under concurrent use: an upsert on the day's counter row."""
    day = today().strftime("%Y%m%d")
    return numbering.next_number(f"{prefix}-{day}")


def invalid(fields: dict[str, str], message: str = "Some fields are not valid.") -> ValidationFailed:
    return ValidationFailed("validation_failed", message, fields)


def is_engineer(user) -> bool:
    return getattr(user, "role", None) == Role.ENGINEER


# --- the state machines (states.*_TRANSITIONS) --------------------------------------------------------------


def _no_guard(obj, user) -> None:
    return None


def allowed_steps(table: dict, guards: dict, obj, user) -> list[str]:
    """The steps of *table* that *user* may take on *obj* now: right status, role, and ownership guard."""
    actions = []
    for action, transition in table.items():
        if obj.status not in transition.sources or not can(user, transition.permission):
            continue
        try:
            guards.get(action, _no_guard)(obj, user)
        except Forbidden:
            continue
        actions.append(action)
    return actions


def check_step(table: dict, guards: dict, obj, action: str, actor, version: int | None, what: str):
    """Refuse a step that does not exist (404), that the role or ownership forbids (403), sent with a stale
    version or from the wrong status (409); return its transition."""
    transition = table.get(action)
    if transition is None:
        raise NotFound("unknown_action", f"No action {action!r} on a {what}.")
    if not can(actor, transition.permission):
        raise Forbidden("forbidden", f"Your role ({actor.role}) may not {action} a {what}.")
    guards.get(action, _no_guard)(obj, actor)
    check_version(obj, version)
    if obj.status not in transition.sources:
        raise Conflict(
            "illegal_transition",
            f"The step {action} is not possible on a {what} that is {obj.status} "
            f"(only when {' or '.join(transition.sources)}).",
        )
    return transition
