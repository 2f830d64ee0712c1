"""Who may do what with parts.

There is no warehouse role: managers and admins do the warehouse work (receipts, transfers, shipping part
requests, receiving and inspecting returns, supplier claims). Ownership rules come on top, in operations: an
engineer applies for their own van, signs only for parts sent to their own van, and sees only their own part
requests and returns."""

from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

_WAREHOUSE = {Role.ADMIN, Role.MANAGER}

PARTS_READ = define("parts.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER})
PARTS_WRITE = define("parts.write", _WAREHOUSE)
STOCK_READ = define("stock.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
STOCK_MOVE = define("stock.move", _WAREHOUSE)
VAN_READ = define("van.read", {Role.ENGINEER})
PART_REQUESTS_APPLY = define(
    "part_requests.apply", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER}
)
PART_REQUESTS_DECIDE = define("part_requests.decide", _WAREHOUSE)
PART_REQUESTS_SHIP = define("part_requests.ship", _WAREHOUSE)
PART_REQUESTS_SIGN = define("part_requests.sign", {Role.ADMIN, Role.MANAGER, Role.ENGINEER})
RETURNS_READ = define("returns.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER})
RETURNS_OPEN = define("returns.open", {Role.ADMIN, Role.MANAGER, Role.ENGINEER})
RETURNS_SHIP = define("returns.ship", {Role.ADMIN, Role.MANAGER, Role.ENGINEER})
RETURNS_HANDLE = define("returns.handle", _WAREHOUSE)
CLAIMS_READ = define("claims.read", _WAREHOUSE)
CLAIMS_HANDLE = define("claims.handle", _WAREHOUSE)
