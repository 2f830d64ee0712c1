"""What other domains react to, sent inside the operation's transaction: a receiver may raise ApiError.

- request_created.send(sr)
- status_changed.send(sr, event=RequestEvent)
- visit_recorded.send(visit, request=sr, data=data)  data["parts"]: [{part_id, qty, old_serial?, new_serial?}]
- event_added.send(sr, event=RequestEvent)            every timeline event

What the request's pages and schema ask of the layers above, answered by receivers:
- appointments_wanted.send(request_ids) -> receivers return {request_id: the request's `appointment` object}

The sweep's events are operations.SweptEvent: the stored row's columns, read-only, not a mapped object.

A batch (operations.assign_many) adds new_rows=[...] to status_changed and event_added: a receiver puts the new
rows it makes (customer messages) in that list instead of the session, and the batch stores them together
(core.models.insert_many). A sync run (operations.TimelineStoredLater) adds it to visit_recorded too (the visit's
verification). Without new_rows, a receiver adds its rows to the session.
"""

from blinker import Namespace

_signals = Namespace()

request_created = _signals.signal("request-created")
status_changed = _signals.signal("status-changed")
visit_recorded = _signals.signal("visit-recorded")
event_added = _signals.signal("event-added")
appointments_wanted = _signals.signal("appointments-wanted")


def appointments_of(request_ids) -> dict[int, dict]:
    """The `appointment` object of each request that has one (API.md), from the domain that books them."""
    found: dict[int, dict] = {}
    for _receiver, answer in appointments_wanted.send(list(request_ids)):
        found.update(answer or {})
    return found
