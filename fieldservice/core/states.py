"""State machines as data: the transition row and the lookups each domain's table needs (requests, complaints).

A domain lists its rows once (action, from-states, to-state or None for "no change", roles, and optional guard,
`when`, required payload fields and kind); API, console, jobs and tests all read that one table.
"""

from dataclasses import dataclass


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
    """The translated label of *key* in *table*, or the key itself when the table does not know it."""
    value = table.get(key) if key else None
    return str(value) if value is not None else (key or "")
