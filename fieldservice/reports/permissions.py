from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

WORK_ORDER_PRINT = define("reports.work_order", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER})
REPORT_READ = define(
    "reports.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER, Role.CALLBACK}
)
