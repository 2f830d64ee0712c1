from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Front-line staff take a customer's invoice request; only a manager issues it.
INVOICES_REQUEST = define("invoices.request", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.CALLBACK})
INVOICES_ISSUE = define("invoices.issue", {Role.ADMIN, Role.MANAGER})
