"""What the engineers' pages ask of the layers above (requests, dispatch), which answer as receivers; their
panels on the profile page come through engineers/panels.py.

Engineers imports none of those layers: a question about jobs is sent here and answered by whoever holds them.
- loads_wanted.send(engineer_ids) -> receivers return {engineer_id: open jobs held now}
"""

from blinker import Namespace

_signals = Namespace()

loads_wanted = _signals.signal("loads-wanted")
