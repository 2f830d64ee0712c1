from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Dispatchers and callback agents read agreements (coverage at intake, the customer's page); only managers sell them.
CONTRACTS_READ = define("contracts.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.CALLBACK})
CONTRACTS_WRITE = define("contracts.write", {Role.ADMIN, Role.MANAGER})
