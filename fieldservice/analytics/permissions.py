from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

ANALYTICS_READ = define("analytics.read", {Role.ADMIN, Role.MANAGER})
