from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Performance figures are for management; an engineer may also read their own (checked in the handler).
ENGINEERS_PERFORMANCE = define("engineers.performance", {Role.ADMIN, Role.MANAGER})
DISPATCH = define("dispatch.use", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
# Locked requests are escalated: only a service manager moves them on (DOMAIN.md); admins may act as managers.
DISPATCH_LOCKED = define("dispatch.locked", {Role.ADMIN, Role.MANAGER})
CLAIM_POOL = define("dispatch.pool", {Role.ENGINEER})
