"""Demo data: the callback desk at work on the demo's resolved requests.

Some requests wait in the queue untouched, some after failed calls, one is closed as unreachable, one gets a
survey with a low score (a manager's follow-up), and one of the follow-ups is already closed.
"""

import logging
import random
from datetime import timedelta

from fieldservice.core.errors import ApiError
from fieldservice.core.models import utcnow
from fieldservice.requests.states import RESOLVED
from fieldservice.revisits import operations as ops

log = logging.getLogger("fieldservice.revisits")

COMMENTS_LOW = ["工程师比约定时间晚到了两个小时", "维修后设备噪音仍然偏大", "工程师没有清理现场"]
NOTES = ["无人接听", "客户说在开会，稍后再打", "电话占线"]


def _user(context: dict, role: str):
    users = context.get("users") or {}
    return next((u for u in users.values() if str(u.role) == role), None)


def seed(rng: random.Random, context: dict) -> None:
    agent = _user(context, "callback") or _user(context, "manager")
    manager = _user(context, "manager") or _user(context, "admin")
    resolved = [sr for sr in context.get("requests") or [] if sr.status == RESOLVED]
    if agent is None or manager is None or not resolved:
        log.info("revisits demo: no callback agent, manager or resolved requests in the context")
        return
    rng.shuffle(resolved)
    now = utcnow()
    plan = ["unreachable", "low_score", "one_attempt", "two_attempts"]
    try:
        for kind, sr in zip(plan, resolved, strict=False):
            _seed_one(rng, kind, sr, agent, now)
        for follow_up in list(ops.db.session.scalars(ops.follow_ups()))[:1]:
            ops.close_follow_up(
                follow_up,
                {"outcome": "经理已致电客户致歉，并安排工程师下周上门复查", "version": follow_up.version},
                manager,
                now=now - timedelta(minutes=30),
            )
    except ApiError as exc:
        log.info("revisits demo stopped early: %s", exc.message)


def _seed_one(rng, kind: str, sr, agent, now) -> None:
    attempts = {"unreachable": ops.max_attempts(), "one_attempt": 1, "two_attempts": 2}.get(kind, 0)
    for n in range(attempts):
        at = now - timedelta(hours=(attempts - n) * 3)
        ops.record_attempt(
            sr,
            {"reason": rng.choice(["no_answer", "busy", "switched_off"]), "note": rng.choice(NOTES)},
            agent,
            now=at,
        )
    if kind == "low_score":
        ops.record_survey(
            sr,
            {
                "satisfied": True,
                "scores": {"timeliness": 2, "attitude": 4, "quality": 3},
                "comment": rng.choice(COMMENTS_LOW),
            },
            agent,
            None,
            now=now - timedelta(hours=1),
        )
