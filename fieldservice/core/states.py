"""State machines as data: the transition row and the lookups each domain's table needs (requests, complaints).

A domain lists its rows once (action, from-states, to-state or None for "no change", roles, and optional guard,
`when`, required payload fields, kind and effect); API, console, jobs and tests all read that one table.
"""

from dataclasses import dataclass

from flask import g, has_request_context
from flask_babel import get_locale


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
