"""Demo data: an example webhook subscription (disabled until an admin points it at a real endpoint). The
customers' notifications of the demo requests were queued by the requests seeder through the signals."""

import logging
import random

from fieldservice.notifications import operations as ops

log = logging.getLogger("fieldservice.notifications")


def seed(rng: random.Random, context: dict) -> None:
    admin = next((u for u in (context.get("users") or {}).values() if u.role == "admin"), None)
    if admin is None:
        log.info("notifications demo: no admin in the context; no example subscription")
        return
    ops.create_subscription(
        {
            "name": "示例:客户关系管理系统 (CRM)",
            "url": "http://127.0.0.1:9000/fieldservice-hooks",
            "events": ["request.created", "request.status_changed", "visit.finished", "part_request.*"],
            "active": False,
        },
        admin,
    )
