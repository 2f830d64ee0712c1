from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Everyone who works requests reads the catalog; managers keep it, verify visits and issue statements.
REPAIR_ITEMS_READ = define(
    "repair_items.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.CALLBACK, Role.ENGINEER}
)
REPAIR_ITEMS_MANAGE = define("repair_items.manage", {Role.ADMIN, Role.MANAGER})
VERIFY = define("settlement.verify", {Role.ADMIN, Role.MANAGER})
# Engineers read their own verifications and statements (the operations narrow what they see).
SETTLEMENT_READ = define("settlement.read", {Role.ADMIN, Role.MANAGER, Role.ENGINEER})
STATEMENTS_MANAGE = define("statements.manage", {Role.ADMIN, Role.MANAGER})
# Managers collect, submit and record the manufacturer's answer to warranty claims (二次索赔).
WARRANTY_CLAIMS_MANAGE = define("warranty_claims.manage", {Role.ADMIN, Role.MANAGER})
