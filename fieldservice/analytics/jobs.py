"""Keep the dashboard's rollups up to date: every ANALYTICS_ROLLUP_SECONDS, the days touched since the last run."""

from fieldservice.analytics import operations
from fieldservice.core.jobs import job, register_periodic


@job(queue="low", timeout=3600)
def refresh_rollups() -> int:
    return operations.refresh_rollups()


register_periodic("analytics-rollups", "fieldservice.analytics.jobs.refresh_rollups", "ANALYTICS_ROLLUP_SECONDS")
