"""The rq worker with a beat thread that queues periodic jobs, once per slot across all workers."""

import logging
import threading
import time

from flask import current_app
from rq import SimpleWorker

from fieldservice.core.jobs import get_queue, redis_connection, run_periodic_due

log = logging.getLogger("fieldservice.worker")


def _beat(app, stop: threading.Event, tick: float = 5.0) -> None:
    while not stop.is_set():
        with app.app_context():
            try:
                run_periodic_due()
            except Exception:
                log.exception("periodic beat failed; retrying")
        stop.wait(tick)


def run_worker(queue_names: list[str], burst: bool = False) -> None:
    app = current_app._get_current_object()
    queues = [get_queue(name) for name in queue_names]
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_beat, args=(app, stop), name="fieldservice-beat", daemon=True).start()
    try:
        # SimpleWorker runs jobs in this process, inside the app context, with its own connection pool:
        # no forked children sharing database connections.
        SimpleWorker(queues, connection=redis_connection()).work(burst=burst, with_scheduler=not burst)
    finally:
        stop.set()
        time.sleep(0)
