"""The request loop's time rules, run by the core sweep (every minute and `fieldservice sweep`), and the hourly
preventive maintenance run."""

from fieldservice.core.jobs import job, register_periodic
from fieldservice.core.sweep import register_sweeper
from fieldservice.requests.maintenance import generate_maintenance
from fieldservice.requests.operations import sweep_requests

register_sweeper("requests", sweep_requests)


@job(queue="low")
def generate_maintenance_job() -> int:
    """Create today's owed maintenance requests; returns how many (a second run the same day creates none)."""
    return generate_maintenance().created


# Hourly rather than daily: an agreement signed this morning gets its first maintenance request the same day.
register_periodic("contracts-maintenance", "fieldservice.requests.jobs.generate_maintenance_job", 3600)
