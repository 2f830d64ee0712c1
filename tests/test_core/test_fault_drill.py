"""The fault drill's short form (bench/fault_drill.py --kills 3): real workers on PostgreSQL and Redis, killed with
SIGKILL under a queue of reports and notifications; nothing lost, nothing done twice, nothing left running."""

import pytest

from bench.fault_drill import drill, failed, report


@pytest.mark.postgres
@pytest.mark.redis
def test_kill_9_drill_loses_nothing_and_duplicates_nothing(worker_app):
    result = drill(
        worker_app.config["SQLALCHEMY_DATABASE_URI"],
        worker_app.config["REDIS_URL"],
        kills=3,
        visits=2,
        reports_per_kill=1,
        notifications_per_kill=2,
        max_wait=1.5,
        settle=90,
    )
    lines = []
    report(result, out=lines.append)
    assert not failed(result), "\n".join(lines)
    assert result["kills"] == 3 and result["visits"] >= 2 and result["notifications"] > 0
