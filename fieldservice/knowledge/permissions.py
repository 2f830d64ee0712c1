from fieldservice.auth.models import Role
from fieldservice.auth.permissions import ALL_ROLES, define

# Everyone reads published entries: dispatchers at intake, engineers on site, callback agents on the phone.
KNOWLEDGE_READ = define("knowledge.read", ALL_ROLES)
# Managers own the content: they write, publish and archive entries, and review proposals.
KNOWLEDGE_WRITE = define("knowledge.write", {Role.ADMIN, Role.MANAGER})
# Engineers (and managers) propose what they learned on site; a manager publishes it.
KNOWLEDGE_PROPOSE = define("knowledge.propose", {Role.ADMIN, Role.MANAGER, Role.ENGINEER})
