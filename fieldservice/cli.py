"""The `fieldservice` command: a Flask CLI group bound to the app factory."""

import importlib
import random
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from werkzeug.serving import run_simple

from fieldservice import DOMAINS, create_app
from fieldservice.analytics.operations import refresh_rollups
from fieldservice.auth import operations
from fieldservice.auth.models import User
from fieldservice.core.clock import seed_calendar
from fieldservice.core.errors import ApiError
from fieldservice.core.jobs import dispatch_committed_jobs, start_inline_beat
from fieldservice.core.sweep import run_sweep
from fieldservice.core.worker import run_worker
from fieldservice.extensions import db


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main():
    """fieldservice: after-sales field service management."""


def register(app) -> None:
    """Commands live on the app too, so `flask --app fieldservice` works as well as `fieldservice`."""
    for command in (init_db, create_user, seed_demo, worker, sweep, analytics_rollups, demo):
        app.cli.add_command(command)


def upgrade_schema() -> None:
    upgrade()


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema through the migrations; fill the holiday calendar if it is empty."""
    upgrade_schema()
    click.echo(f"database at {_redacted_url()} is at the latest schema")
    # The migration seeds the calendar; this covers a database whose admins emptied it, or made without migrations.
    added = seed_calendar()
    db.session.commit()
    if added:
        click.echo(f"holiday calendar filled with {added} days")


def _redacted_url() -> str:
    return db.engine.url.render_as_string(hide_password=True)


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "dispatcher", "engineer", "callback"]))
@click.option("--password", required=True)
@click.option("--name", default="")
@with_appcontext
def create_user(username, role, password, name):
    """Create a user with a role and a password."""
    try:
        user = operations.create_user(username, password, role, name=name)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message
        raise click.ClickException(detail) from exc
    click.echo(f"created {user.username} ({user.role})")


def seed_all(seed: int = 20261123) -> bool:
    """Run each domain's demo seeder, in domain order; False when the database already has data."""
    if db.session.query(User.id).first() is not None:
        return False
    # First, so that the demo's due times count the public holidays.
    seed_calendar()
    rng = random.Random(seed)
    context: dict = {}
    for name in DOMAINS:
        try:
            module = importlib.import_module(f"fieldservice.{name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"fieldservice.{name}.demo":
                raise
            continue
        module.seed(rng, context)
        db.session.flush()
    db.session.commit()
    return True


DEMO_LOGINS = [
    ("admin", "admin123", "管理员 / administrator"),
    ("manager", "manager123", "服务经理 / service manager"),
    ("dispatcher", "dispatcher123", "派单员 / dispatcher"),
    ("callback", "callback123", "回访员 / callback agent"),
    ("eng01", "engineer", "服务工程师 / field engineer (eng01 … eng12)"),
]


@click.command("seed-demo")
@click.option("--seed", default=20261123, help="Random seed, for a repeatable demo set.")
@with_appcontext
def seed_demo(seed):
    """Fill an empty database with a realistic demo set (in Chinese)."""
    if not seed_all(seed):
        click.echo("the database already has users: seed-demo only fills an empty database")
        return
    # What the seeders queued (the finished visits' reports): to the workers, or run here without Redis.
    jobs = dispatch_committed_jobs()
    where = "ran here" if current_app.config["INLINE_JOBS"] else "queued for the workers"
    click.echo(f"{jobs} jobs (the finished visits' reports) {where}")
    click.echo("demo data created; logins (password = the word after the slash):")
    for username, password, label in DEMO_LOGINS:
        click.echo(f"  {username} / {password}   {label}")


@click.command("worker")
@click.option("--queues", default="high,default,low")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty (tests, one-off runs).")
@click.option("--max-jobs", type=int, help="Stop after this many jobs (for a supervisor to start it again).")
@click.option("--max-memory", type=int, help="Stop between jobs once past this many MB (for a supervisor).")
@with_appcontext
def worker(queues, burst, max_jobs, max_memory):
    """Run an rq worker with the periodic-job beat (any number of them may run)."""
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inline in the web process.")
    run_worker(queues.split(","), burst=burst, max_jobs=max_jobs, max_memory_mb=max_memory)


@click.command("sweep")
@with_appcontext
def sweep():
    """Run the time rules once (locks, returns, SLA flags)."""
    results = run_sweep()
    db.session.commit()
    dispatch_committed_jobs()
    click.echo("sweep: " + (", ".join(f"{k} {v}" for k, v in results.items()) or "nothing to do"))


@click.command("analytics-rollups")
@click.option("--full", is_flag=True, help="Rebuild every day, not only those touched since the last refresh.")
@with_appcontext
def analytics_rollups(full):
    """Bring the analytics rollups up to date (the worker does it every minute; the first time builds all)."""
    days = refresh_rollups(full=full)
    db.session.commit()
    click.echo(f"analytics rollups: {days} days refreshed")


@click.command("demo")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def demo(host, port):
    """Create the schema, seed the demo data if empty, and serve the app."""
    upgrade_schema()
    if seed_all():
        click.echo("demo data created")
    app = current_app._get_current_object()
    click.echo(f"\n  fieldservice is running at http://{host}:{port}/   (Ctrl+C to stop)")
    click.echo("  demo logins (username / password):")
    for username, password, label in DEMO_LOGINS:
        click.echo(f"    {username} / {password}   {label}")
    click.echo(f"  engineers' phone app: http://{host}:{port}/app/    API docs: http://{host}:{port}/api/v1/docs\n")
    if app.config["INLINE_JOBS"]:
        # Its first run builds the seeded visits' reports (reconcile) while the server already answers.
        start_inline_beat(app)
    else:
        dispatch_committed_jobs()
    # Not app.run(): Flask ignores it inside a `flask` CLI command.
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    sys.exit(main())
