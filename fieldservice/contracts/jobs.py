"""Scheduled work of the contracts domain: preventive maintenance requests, generated ahead of their date."""

from fieldservice.contracts.maintenance import generate_maintenance
from fieldservice.core.jobs import job, register_periodic


@job(queue="low")
def generate_maintenance_job() -> int:
    """Create today's owed maintenance requests; returns how many (a second run the same day creates none)."""
    return generate_maintenance().created


# Hourly rather than daily: an agreement signed this morning gets its first maintenance request the same day.
register_periodic("contracts-maintenance", "fieldservice.contracts.jobs.generate_maintenance_job", 3600)
