"""An agreement's SLA clock: its response and resolution hours, and which due time wins."""

from datetime import UTC, datetime, timedelta

from fieldservice.core.clock import require_aware


def coverage_due_times(coverage, at: datetime) -> tuple[datetime | None, datetime | None]:
    """When a request logged at *at* must be answered and resolved under *coverage* (None where it sets no hours).

    SLA hours run round the clock: a Gold agreement's 4 h response includes nights and weekends.
    """
    start = require_aware(at).astimezone(UTC)
    response = getattr(coverage, "response_hours", None)
    resolution = getattr(coverage, "resolution_hours", None)
    return (
        start + timedelta(hours=response) if response else None,
        start + timedelta(hours=resolution) if resolution else None,
    )


def stricter(priority_due: datetime, agreement_due: datetime | None) -> datetime:
    """DOMAIN.md "Priorities": the agreement's due time wins where it is earlier than the priority's."""
    if agreement_due is None:
        return priority_due
    return min(require_aware(priority_due), require_aware(agreement_due))
