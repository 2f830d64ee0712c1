from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

WORK_ORDER_PRINT = define("reports.work_order", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER})
REPORT_READ = define(
    "reports.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER, Role.CALLBACK}
)
# Revoking a customer's link (and issuing the next): the staff who hand links out.
CUSTOMER_LINK_MANAGE = define("reports.customer_link", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
