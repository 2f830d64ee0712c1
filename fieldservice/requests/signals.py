"""What other domains react to, sent inside the operation's transaction: a receiver may raise ApiError.

- request_created.send(sr)
- status_changed.send(sr, event=RequestEvent)
- visit_recorded.send(visit, request=sr, data=data)  data["parts"]: [{part_id, qty, old_serial?, new_serial?}]
- event_added.send(sr, event=RequestEvent)            every timeline event
"""

from blinker import Namespace

_signals = Namespace()

request_created = _signals.signal("request-created")
status_changed = _signals.signal("status-changed")
visit_recorded = _signals.signal("visit-recorded")
event_added = _signals.signal("event-added")
