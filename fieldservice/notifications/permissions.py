from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

NOTIFICATIONS_READ = define("notifications.read", {Role.ADMIN, Role.MANAGER})
NOTIFICATIONS_RESEND = define("notifications.resend", {Role.ADMIN, Role.MANAGER})
WEBHOOKS_MANAGE = define("webhooks.manage", {Role.ADMIN})
