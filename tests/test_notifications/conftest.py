"""Local receivers for what the outbox sends: an HTTP server (SMS/WeChat provider, webhook endpoint) and an
SMTP
server, each on a free port in a thread, recording every request."""

import socketserver
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fieldservice.core.models import utcnow


class Receiver(ThreadingHTTPServer):
    """Records each POST; answers with the next of `statuses` (the last one repeats)."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict] = []
        self.statuses = [200]
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hook"

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status = self.server.next_status()
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": body, "status": status}
        )
        answer = b'{"id": "msg-%d"}' % len(self.server.received)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def receiver():
    yield from _serve(Receiver())


class SmtpServer(socketserver.ThreadingTCPServer):
    """Just enough SMTP to accept messages: records (sender, recipients, data)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages: list[dict] = []


class _SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 test ESMTP")
        sender, recipients = None, []
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 test")
            elif verb == "MAIL":
                sender, recipients = command[10:].strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command[8:].strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go on")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.server.messages.append({"from": sender, "to": recipients, "data": data})
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def smtp_server():
    yield from _serve(SmtpServer())


@pytest.fixture
def sms_to(app, receiver):
    """Customers' messages go by SMS to the local receiver (the HTTP provider); retries wait 0 s in tests."""
    app.config.update(
        FIELDSERVICE_SMS_URL=receiver.url, FIELDSERVICE_SMS_TOKEN="sms-token", FIELDSERVICE_OUTBOX_BACKOFF="0"
    )
    return receiver


@pytest.fixture
def setup_request(db, make_equipment, make_engineer, make_user):
    """A problem type, a customer with a phone and an equipment, an engineer 张师傅, a dispatcher."""
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leak", category="repair"))
    db.session.commit()
    equipment = make_equipment()
    engineer = make_engineer(skills=[equipment.product.category], name="张师傅")
    return {
        "equipment": equipment,
        "engineer": engineer,
        "dispatcher": make_user("dispatcher"),
        "callback": make_user("callback"),
    }


def request_body(equipment) -> dict:
    return {
        "customer_id": equipment.customer_id,
        "equipment_id": equipment.id,
        "problem_type": "leak",
        "description": "机器底部漏水",
        "priority": 2,
        "required_by": (utcnow() + timedelta(days=2)).isoformat(),
    }


@pytest.fixture
def log_request(db, setup_request):
    """log_request() -> a new request logged by the dispatcher (operations, committed)."""
    from fieldservice.requests import operations as ops

    def log():
        body = {**request_body(setup_request["equipment"]), "required_by": utcnow() + timedelta(days=1)}
        sr = ops.create_request(body, setup_request["dispatcher"])
        db.session.commit()
        return sr

    return log
