from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# The same roles as the requests domain's `revisit` action.
CALLBACK_QUEUE = define("revisits.queue", {Role.ADMIN, Role.MANAGER, Role.CALLBACK})
FOLLOW_UPS = define("revisits.follow_ups", {Role.ADMIN, Role.MANAGER})
