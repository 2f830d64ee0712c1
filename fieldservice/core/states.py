"""State machines as data: the transition row and the lookups each domain's table needs (requests, complaints).

A domain lists its rows once (action, from-states, to-state or None for "no change", roles, and optional guard,
`when`, required payload fields, kind and effect); API, console, jobs and tests all read that one table.
"""

from dataclasses import dataclass

from flask import g, has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

# Who acted on a timeline when no user did: the code stored in the entry's actor_label, worded when read.
ACTOR_LABELS = {"system": _l("System"), "customer": _l("Customer")}


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None
    roles: frozenset[str]
    guard: str | None = None
    when: str | None = None
    requires: tuple[str, ...] = ()
    kind: str = "action"
    # The name of what taking the row changes besides the state (the domain's operations.EFFECTS).
    effect: str | None = None


def transition(action, sources, target, roles, **kw) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), **kw)


class StateMachine:
    def __init__(self, transitions):
        self.transitions: tuple[Transition, ...] = tuple(transitions)
        # The actions a user takes by name (API, console buttons), in table order.
        self.actions: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in self.transitions if t.kind == "action"))

    def transitions_for(self, action: str) -> list[Transition]:
        return [t for t in self.transitions if t.action == action]

    def roles_for(self, action: str) -> frozenset[str]:
        roles: set[str] = set()
        for t in self.transitions_for(action):
            roles |= t.roles
        return frozenset(roles)


def label_of(table: dict, key: str | None) -> str:
    """The translated label of *key* in *table*, or the key itself when the table does not know it.

    Translated once per request (a list page labels every row's status)."""
    value = table.get(key) if key else None
    if value is None:
        return key or ""
    if not has_request_context():
        return str(value)
    labels = g.setdefault("_fieldservice_labels", {})
    cache_key = (id(table), key, str(get_locale()))
    label = labels.get(cache_key)
    if label is None:
        label = labels[cache_key] = str(value)
    return label


def event_actor(event) -> str:
    """Who made a timeline entry: the person's name, or the system or the customer in the reader's language."""
    if event.actor_id is None and event.actor_label in ACTOR_LABELS:
        return label_of(ACTOR_LABELS, event.actor_label)
    return event.actor_label


def coded_note(event, notes: dict, legacy: dict | None = None) -> str | None:
    """A timeline entry's note in the reader's language.

    The system stores its notes as a code (data["note_code"]) with parameters (data["note_params"]), worded by
    *notes*; a person's note is shown as typed. *legacy* reads sentences stored before notes were codes."""
    data = event.data or {}
    code = data.get("note_code") or ((legacy or {}).get(event.note) if event.actor_id is None else None)
    if code not in notes:
        return event.note
    params = data.get("note_params")
    return str(notes[code]) % params if params else str(notes[code])


def coded_note_data(notes: dict, code: str, **params) -> dict:
    """The data that makes a timeline entry's note *code* of *notes*, with its parameters."""
    if code not in notes:
        raise ValueError(f"unknown system note {code!r}")
    return {"note_code": code, "note_params": params} if params else {"note_code": code}
