"""gunicorn's settings for fieldservice, read from the working directory: gunicorn 'fieldservice:create_app()'.

The access log goes to stdout with the customers' public tokens masked (/r/abcd…): the filter is installed in
the master (its error log) and in each worker after the fork (the access lines are written there).
"""

import os

from fieldservice.core.logmask import install_log_masking

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")


def on_starting(server):
    install_log_masking()


def post_fork(server, worker):
    install_log_masking()
