from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Dispatchers and callback agents read agreements (coverage at intake, the customer's page); only managers sell them.
CONTRACTS_READ = define("contracts.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.CALLBACK})
CONTRACTS_WRITE = define("contracts.write", {Role.ADMIN, Role.MANAGER})
# Front-line staff take a customer's invoice request; only a manager issues it.
INVOICES_REQUEST = define("invoices.request", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.CALLBACK})
INVOICES_ISSUE = define("invoices.issue", {Role.ADMIN, Role.MANAGER})
MAINTENANCE_RUN = define("maintenance.run", {Role.ADMIN, Role.MANAGER})
