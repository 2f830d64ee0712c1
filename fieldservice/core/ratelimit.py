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


def window_start(window_seconds: int, now: float | None = None) -> int:
    """The start (Unix seconds) of the fixed window of *window_seconds* that holds *now*."""
    now = time.time() if now is None else now
    return int(now // window_seconds) * window_seconds


def seconds_left(window: int, window_seconds: int, now: float | None = None) -> int:
    """How long until *window* ends, in whole seconds (at least 1): what a 429's Retry-After says."""
    now = time.time() if now is None else now
    return max(1, int(window + window_seconds - now + 0.999))


def add(key: str, window_seconds: int, delta: int = 1, window: int | None = None) -> int:
    """Add *delta* (negative to give a hit back) to *key*'s count in *window*, the current one by default; return
    the new count. Atomic across processes: concurrent callers each see a different count."""
    window = window_start(window_seconds) if window is None else window
    if current_app.config.get("REDIS_URL"):
        try:
            return _add_in_redis(key, window, window_seconds, delta)
        except RedisError as exc:
            log.warning("rate limit %s: Redis unreachable (%s); counting in the database", key, exc)
    return _add_in_database(key, window, window_seconds, delta)


def allow(key: str, limit: int, window_seconds: int, now: float | None = None) -> bool:
    """Count one hit on *key*; False once more than *limit* hits fell in the current window."""
    return add(key, window_seconds, window=window_start(window_seconds, now)) <= limit


def _add_in_redis(key: str, window: int, window_seconds: int, delta: int) -> int:
    redis_key = f"fieldservice:rate:{key}:{window}"
    pipe = redis_connection().pipeline()
    pipe.incrby(redis_key, delta)
    pipe.expire(redis_key, window_seconds + 5)
    return pipe.execute()[0]


def _add_in_database(key: str, window: int, window_seconds: int, delta: int) -> int:
    # Its own connection and transaction: the count must persist whatever the request does with its session.
    bucket = (RateLimitBucket.key == key, RateLimitBucket.window_start == window)
    with db.engine.begin() as conn:
        updated = conn.execute(
            sa.update(RateLimitBucket)
            .where(*bucket)
            .values(count=RateLimitBucket.count + delta)
            .returning(RateLimitBucket.count)
        ).scalar()
        if updated is None:
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(RateLimitBucket).values(key=key, window_start=window, count=delta))
                updated = delta
            except sa.exc.IntegrityError:
                updated = conn.execute(
                    sa.update(RateLimitBucket)
                    .where(*bucket)
                    .values(count=RateLimitBucket.count + delta)
                    .returning(RateLimitBucket.count)
                ).scalar()
        # Old buckets of every key go, but only once past the longest window any key uses: a bucket counts its own
        # key's window, and a short one's cleanup must not empty a day-long one (the fresh-link limit per request).
        conn.execute(
            sa.delete(RateLimitBucket).where(
                RateLimitBucket.window_start < window - max(10 * window_seconds, LONGEST_WINDOW)
            )
        )
    return updated
