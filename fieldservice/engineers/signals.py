"""What the engineers' pages ask of the layers above (requests, dispatch), which answer as receivers.

Engineers imports none of those layers: a question about jobs is sent here and answered by whoever holds them.
- loads_wanted.send(engineer_ids) -> receivers return {engineer_id: open jobs held now}
- profile_panels.send(engineer) -> receivers return the HTML of a panel of the engineer's profile page
"""

from blinker import Namespace

_signals = Namespace()

loads_wanted = _signals.signal("loads-wanted")
profile_panels = _signals.signal("profile-panels")
