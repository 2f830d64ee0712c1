from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Issuing, revoking and printing the units' labels: the staff who register units and hand labels out.
LABELS_MANAGE = define("selfservice.labels", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
