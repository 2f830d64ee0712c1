"""Who may use the engineers' sync endpoints."""

from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Only engineers have jobs on a phone; the other roles work in the console.
SYNC_USE = define("sync.use", {Role.ENGINEER})
