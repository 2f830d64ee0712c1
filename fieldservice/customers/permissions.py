from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

CUSTOMERS_READ = define("customers.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.CALLBACK})
CUSTOMERS_WRITE = define("customers.write", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
PRODUCTS_WRITE = define("products.write", {Role.ADMIN, Role.MANAGER})
