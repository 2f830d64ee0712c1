"""What the reports domain tells the domains above it (notifications sends the message)."""

from blinker import Namespace

_signals = Namespace()

# sender: the ServiceRequest; phone: the number on record it goes to; serial: the new link's serial.
fresh_link_requested = _signals.signal("fresh-link-requested")
