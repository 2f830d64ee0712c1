"""The appointments' time rule (missed windows), run by the core sweep every minute and by `fieldservice sweep`."""

from fieldservice.appointments.operations import sweep_appointments
from fieldservice.core.sweep import register_sweeper

register_sweeper("appointments", sweep_appointments)
