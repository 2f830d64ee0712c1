from fieldservice.auth.models import Role
from fieldservice.auth.permissions import define

# Booking is checked in the operation (dispatchers and managers; the assigned engineer for their own job).
APPOINTMENTS_BOOK = define("appointments.book", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER})
SCHEDULE_READ = define("schedule.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
