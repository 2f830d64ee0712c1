"""Fixed-window rate limits shared by every process: Redis when configured, the database otherwise.

When Redis is configured but unreachable, the count falls back to the database (with a log line) rather than
answering 500: the customer's pages must stay up while Redis is away.
"""

import logging
import time

import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.core.jobs import redis_connection
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.core")
LONGEST_WINDOW = 2 * 86400  # seconds: no key counts over a longer window than this


class RateLimitBucket(db.Model):
    __tablename__ = "rate_limit_buckets"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<RateLimitBucket {self.key} {self.window_start} {self.count}>"


def allow(key: str, limit: int, window_seconds: int, now: float | None = None) -> bool:
    """Count one hit on *key*; False once more than *limit* hits fell in the current window."""
    now = time.time() if now is None else now
    window = int(now // window_seconds) * window_seconds
    if current_app.config.get("REDIS_URL"):
        try:
            return _allow_in_redis(key, window, limit, window_seconds)
        except RedisError as exc:
            log.warning("rate limit %s: Redis unreachable (%s); counting in the database", key, exc)
    return _allow_in_database(key, window, limit, window_seconds)


def _allow_in_redis(key: str, window: int, limit: int, window_seconds: int) -> bool:
    redis_key = f"fieldservice:rate:{key}:{window}"
    pipe = redis_connection().pipeline()
    pipe.incr(redis_key)
    pipe.expire(redis_key, window_seconds + 5)
    return pipe.execute()[0] <= limit


def _allow_in_database(key: str, window: int, limit: int, window_seconds: int) -> bool:
    # Its own connection and transaction: the count must persist whatever the request does with its session.
    with db.engine.begin() as conn:
        updated = conn.execute(
            sa.update(RateLimitBucket)
            .where(RateLimitBucket.key == key, RateLimitBucket.window_start == window)
            .values(count=RateLimitBucket.count + 1)
            .returning(RateLimitBucket.count)
        ).scalar()
        if updated is None:
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(RateLimitBucket).values(key=key, window_start=window, count=1))
                updated = 1
            except sa.exc.IntegrityError:
                updated = conn.execute(
                    sa.update(RateLimitBucket)
                    .where(RateLimitBucket.key == key, RateLimitBucket.window_start == window)
                    .values(count=RateLimitBucket.count + 1)
                    .returning(RateLimitBucket.count)
                ).scalar()
        # Old buckets of every key go, but only once past the longest window any key uses: a bucket counts its own
        # key's window, and a short one's cleanup must not empty a day-long one (the fresh-link limit per request).
        conn.execute(
            sa.delete(RateLimitBucket).where(
                RateLimitBucket.window_start < window - max(10 * window_seconds, LONGEST_WINDOW)
            )
        )
    return updated <= limit
