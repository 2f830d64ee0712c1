"""The app over real HTTP for the browser tests: served on a free port, and closed without leaving a connection open."""

import contextlib
import threading

from werkzeug.serving import make_server

from fieldservice.extensions import db as _db


@contextlib.contextmanager
def serving(served):
    """Serve the Flask app *served* on a free port of 127.0.0.1; yields the server, its address in ``server.url``."""
    gate = _Gate(served.wsgi_app)
    served.wsgi_app = gate
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(5)
        # The browser may still hold kept-alive connections that would go on reaching the app: from now on they are
        # answered 503, and the requests under way finish before the pool is disposed (a connection checked out
        # through the disposal is never closed, and its garbage collection warns in whatever test runs next).
        gate.close(timeout=10)
        with served.app_context():
            _db.session.remove()
            _db.engine.dispose()


class _Gate:
    """WSGI middleware that counts the requests under way and, once closed, answers 503 without touching the app."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.open = True
        self.busy = 0
        self.changed = threading.Condition()

    def __call__(self, environ, start_response):
        with self.changed:
            if not self.open:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Connection", "close")])
                return [b"the test server is closing"]
            self.busy += 1
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            with self.changed:
                self.busy -= 1
                self.changed.notify_all()

    def close(self, timeout):
        with self.changed:
            self.open = False
            if not self.changed.wait_for(lambda: self.busy == 0, timeout):
                raise AssertionError(f"{self.busy} request(s) of the test server still under way after {timeout} s")
