"""gunicorn's settings for fieldservice, read from the working directory: gunicorn 'fieldservice:create_app()'.

The access log goes to stdout with the customers' public tokens masked (/r/abcd…): the filter is installed in
the master (its error log) and in each worker after the fork (the access lines are written there).
"""

import gc
import os

from fieldservice.core.logmask import install_log_masking

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")


def on_starting(server):
    install_log_masking()


def post_fork(server, worker):
    install_log_masking()


def post_worker_init(worker):
    # The app is loaded: its objects (models, metadata, compiled statements, translations) live as long as the
    # worker. Out of the collector's passes, as the rq worker does (core.worker.run_worker): a full pass over them
    # otherwise lands in some request and makes the tail of the list's times (bench/requests_list.py).
    gc.freeze()
