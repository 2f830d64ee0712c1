"""What the reports domain tells the domains above it (notifications sends the message)."""

from blinker import Namespace

_signals = Namespace()

# sender: the ServiceRequest; phone: the number on record the link goes to; event_id: the timeline event of the ask.
fresh_link_requested = _signals.signal("fresh-link-requested")
