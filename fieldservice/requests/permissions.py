from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Everyone reads; what each role sees is narrowed by operations.visible_requests (API.md "Visibility").
REQUESTS_READ = define(
    "requests.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER, Role.CALLBACK}
)
REQUESTS_CREATE = define("requests.create", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
PROBLEM_TYPES_MANAGE = define("problem_types.manage", {Role.ADMIN, Role.MANAGER})
MAINTENANCE_RUN = define("maintenance.run", {Role.ADMIN, Role.MANAGER})
# Rule 3: locked requests are the manager's; their home page lists them with the overdue ones.
LOCKED_WORK = define("requests.locked_work", {Role.ADMIN, Role.MANAGER})
