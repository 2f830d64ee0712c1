"""The time rules, run by `fieldservice sweep` and by a periodic job every minute.

Each domain registers its sweeper: a function (now) -> int (how many rows it changed). Sweepers touch only rows
that are due (indexed queries) and are idempotent: a second run at the same time changes nothing.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from fieldservice.core.jobs import job, register_periodic
from fieldservice.core.models import utcnow

log = logging.getLogger("fieldservice.sweep")

SWEEPERS: list[tuple[str, Callable[[datetime], int]]] = []


def register_sweeper(name: str, func: Callable[[datetime], int]) -> None:
    if not any(n == name for n, _ in SWEEPERS):
        SWEEPERS.append((name, func))


def run_sweep(now: datetime | None = None) -> dict[str, int]:
    """Run every sweeper once; the caller commits."""
    now = now or utcnow()
    results = {}
    for name, func in SWEEPERS:
        results[name] = func(now)
    if any(results.values()):
        log.info("sweep at %s changed %s", now.isoformat(), results)
    return results


@job(queue="high")
def sweep_job() -> dict[str, int]:
    return run_sweep()


register_periodic("sweep", "fieldservice.core.sweep.sweep_job", 60)
