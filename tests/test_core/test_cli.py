from datetime import date

import sqlalchemy as sa
from click.testing import CliRunner

from fieldservice.auth.models import User
from fieldservice.cli import main
from fieldservice.core.holidays import CALENDAR_DAYS
from fieldservice.core.models import CalendarDay
from fieldservice.extensions import db
from fieldservice.reports.models import ServiceReport
from fieldservice.requests.models import Visit


def test_console_script_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("init-db", "create-user", "seed-demo", "run", "worker", "sweep", "demo"):
        assert command in result.output


def test_init_db_creates_the_schema_and_is_repeatable(fresh_app):
    runner = fresh_app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0 and "latest schema" in again.output


def test_init_db_fills_an_empty_holiday_calendar(fresh_app):
    runner = fresh_app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    # The migration seeded it: init-db leaves it as the admins keep it.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == len(CALENDAR_DAYS)
    db.session.execute(sa.delete(CalendarDay).where(CalendarDay.day != date(2026, 1, 1)))
    db.session.commit()
    kept = runner.invoke(args=["init-db"])
    assert kept.exit_code == 0 and "holiday calendar" not in kept.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == 1
    db.session.execute(sa.delete(CalendarDay))
    db.session.commit()
    refilled = runner.invoke(args=["init-db"])
    assert refilled.exit_code == 0 and "holiday calendar filled" in refilled.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == len(CALENDAR_DAYS)


def test_create_user(runner, db):
    result = runner.invoke(args=["create-user", "li.lei", "--role", "manager", "--password", "secret-pass"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "li.lei"))
    assert user.role == "manager" and user.check_password("secret-pass")


def test_create_user_refuses_bad_input_and_changes_nothing(runner, db):
    short = runner.invoke(args=["create-user", "x", "--role", "admin", "--password", "short"])
    assert short.exit_code != 0 and "password" in short.output
    bad_role = runner.invoke(args=["create-user", "x", "--role", "boss", "--password", "long-enough"])
    assert bad_role.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_create_user_twice_is_refused(runner):
    assert runner.invoke(args=["create-user", "wang", "--role", "callback", "--password", "password1"]).exit_code == 0
    again = runner.invoke(args=["create-user", "wang", "--role", "callback", "--password", "password1"])
    assert again.exit_code != 0 and "taken" in again.output


def test_seed_demo_fills_an_empty_database_once(runner, db):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    assert users >= 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == len(CALENDAR_DAYS)
    # The finished visits' report jobs ran (inline here; to rq with Redis), not left queued in the command.
    visits = db.session.scalar(sa.select(sa.func.count()).select_from(Visit))
    assert visits > 0 and db.session.scalar(sa.select(sa.func.count()).select_from(ServiceReport)) == visits
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "already" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == users


def test_sweep_runs(runner):
    result = runner.invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sweep:")


def test_worker_refuses_without_redis(runner):
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "REDIS_URL" in result.output


def test_demo_command_creates_seeds_and_serves(tmp_path):
    """The README's first command ends in `fieldservice demo`: it must really serve the seeded app."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/demo.db"
    script = os.path.join(os.path.dirname(sys.executable), "fieldservice")
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen([script, "demo", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the demo server did not come up"
                time.sleep(0.5)
        assert "登录" in page
    finally:
        process.terminate()
        process.wait(10)
        log.close()
