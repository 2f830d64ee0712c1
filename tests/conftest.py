"""Fixtures: the app on real PostgreSQL when DATABASE_URL is set (SQLite otherwise), clean tables per test,
API clients logged in per role, and factories for the master data. Under pytest-xdist each worker has a database
and a Redis db of its own."""

import itertools
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from fieldservice import create_app
from fieldservice.extensions import db as _db
from tests.serving import serving

DATABASE_URL = os.environ.get("DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")
# CI sets this so that a test needing PostgreSQL or Redis fails instead of skipping when they are missing.
REQUIRE_SERVICES = os.environ.get("FIELDSERVICE_REQUIRE_SERVICES") == "1"

ROLES = ["admin", "manager", "dispatcher", "engineer", "callback"]

# pytest-xdist names its workers gw0, gw1, ... in this variable; a serial run has none and uses the URLs as given.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
REDIS_DBS = 16


def worker_database_url(url: str, worker: str | None) -> str:
    """The database of xdist *worker*: `<db>_gw0` on PostgreSQL, `<file>_gw0.db` on SQLite; *url* when serial."""
    if not worker:
        return url
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        parsed = parsed.set(database=str(path.with_name(f"{path.stem}_{worker}{path.suffix}")))
    else:
        parsed = parsed.set(database=f"{parsed.database}_{worker}")
    return parsed.render_as_string(hide_password=False)


def worker_redis_url(url: str, worker: str | None) -> str:
    """The Redis db of xdist *worker*: the db of *url* plus the worker's number, which must stay within 0..15."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base + (int(worker.removeprefix("gw")) if worker else 0)
    if db >= REDIS_DBS:
        raise pytest.UsageError(f"REDIS_URL db {base} + xdist worker {worker} is past Redis's last db (15)")
    return urlunsplit(parts._replace(path=f"/{db}"))


def _create_worker_database(url: str) -> None:
    """Create this worker's PostgreSQL database if it is missing; `_schema` then lays the tables as in a serial run."""
    parsed = sa.engine.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            # -2 marks a database whose DROP was interrupted: it can only be dropped again.
            valid = conn.execute(
                sa.text("SELECT datconnlimit <> -2 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).scalar()
            if valid is False:
                conn.execute(sa.text(f'DROP DATABASE "{parsed.database}"'))
            # Otherwise kept from run to run: dropping a database waits for a checkpoint, a minute on a busy disk.
            if not valid:
                conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        engine.dispose()


def _is_postgres() -> bool:
    return bool(DATABASE_URL) and DATABASE_URL.startswith("postgres")


def pytest_addoption(parser):
    parser.addoption(
        "--bench", action="store_true", help="also run the benchmarks kept as tests (marked bench): bench/*.py does"
    )


def pytest_collection_modifyitems(config, items):
    bench = config.getoption("--bench")
    for item in items:
        if "bench" in item.keywords and not bench:
            item.add_marker(pytest.mark.skip(reason="a benchmark: bench/sync_prime_browser.py runs it (--bench)"))
        if "postgres" in item.keywords and not _is_postgres():
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))


def pytest_configure(config):
    if REQUIRE_SERVICES and not (_is_postgres() and REDIS_URL):
        raise pytest.UsageError("FIELDSERVICE_REQUIRE_SERVICES=1: DATABASE_URL (PostgreSQL) and REDIS_URL must be set")
    if REDIS_URL:
        worker_redis_url(REDIS_URL, XDIST_WORKER)  # refuse a worker whose Redis db does not exist before any test runs


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if not DATABASE_URL:
        # tmp_path_factory already gives each xdist worker a folder of its own.
        return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    url = worker_database_url(DATABASE_URL, XDIST_WORKER)
    if XDIST_WORKER and _is_postgres():
        _create_worker_database(url)
    return url


@pytest.fixture(scope="session")
def app_config(database_url) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        # Jobs run inline unless a test asks for the real worker (the `worker` fixture).
        "REDIS_URL": None,
        "WTF_CSRF_ENABLED": False,
        "FIELDSERVICE_PUBLIC_URL": "http://fs.test",
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def _schema(app_config):
    app = create_app(app_config)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def app(app_config, _schema):
    app = create_app(app_config)
    with app.app_context():
        yield app
        _db.session.remove()
        _truncate_all()
        _db.engine.dispose()


_RESTART_SEQUENCES = (
    "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), start_value, false)"
    " FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def _truncate_all() -> None:
    """Empty every table and restart the ids, as a fresh schema would have them."""
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Not TRUNCATE: it rebuilds every table's files and indexes and syncs them to disk, a second or more
            # per test on a busy disk; deleting the few rows a test made is milliseconds. One round trip, children
            # first, then only the sequences a test has drawn from go back to their start (RESTART IDENTITY).
            # The kept counts once more at the end: deleting the requests adds rows to it (its triggers).
            tables.append("service_request_counts")
            conn.exec_driver_sql("; ".join(f'DELETE FROM "{t}"' for t in tables) + "; " + _RESTART_SEQUENCES)
        else:
            for table in tables:
                conn.execute(sa.text(f'DELETE FROM "{table}"'))


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def holiday_calendar(db):
    """The public holidays of core/holidays.py in the calendar: the test database starts with it empty."""
    from fieldservice.core.clock import seed_calendar

    seed_calendar()
    db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_counter = itertools.count(1)


@pytest.fixture
def make_user(db):
    from fieldservice.auth import operations

    def make(role: str = "dispatcher", username: str | None = None, password: str = "password123", **kw):
        user = operations.create_user(username or f"{role}{next(_counter)}", password, role, **kw)
        db.session.commit()
        return user

    return make


class ApiClient:
    """The Flask test client with a bearer token: what an integrator or the PWA does."""

    def __init__(self, client, user, token):
        self.client, self.user, self.token = client, user, token
        self.headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method, path, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return getattr(self.client, method)(path, headers=headers, **kw)

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, json=None, **kw):
        return self._call("post", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self._call("patch", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self._call("put", path, json=json, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


@pytest.fixture
def api_as(client, make_user):
    """api_as("dispatcher") -> an ApiClient logged in as a new user with that role (or pass user=...)."""
    from fieldservice.auth.operations import issue_token

    def make(role: str = "dispatcher", user=None, **kw):
        user = user or make_user(role, **kw)
        token = issue_token(user)
        _db.session.commit()  # the token's login must be stored before a request (or a rollback) looks for it
        return ApiClient(client, user, token)

    return make


@pytest.fixture
def console_as(app, make_user):
    """console_as("manager") -> a test client logged in through the console form (session cookie)."""

    def make(role: str = "dispatcher", user=None):
        user = user or make_user(role)
        c = app.test_client()
        response = c.post("/login", data={"username": user.username, "password": "password123"})
        assert response.status_code == 302, response.data
        c.user = user
        return c

    return make


@pytest.fixture
def make_customer(db):
    from fieldservice.customers.models import Customer

    def make(**kw):
        n = next(_counter)
        data = {
            "name": f"客户{n}",
            "phone": f"1380000{n:04d}",
            "address": f"上海市浦东新区{n}号",
            "zone": "浦东",
        }
        data.update(kw)
        customer = Customer(**data)
        db.session.add(customer)
        db.session.commit()
        return customer

    return make


@pytest.fixture
def make_product(db):
    from fieldservice.customers.models import Product

    def make(**kw):
        n = next(_counter)
        data = {"name": f"商用净水器{n}", "model": f"RO-{n}", "category": "water_purifier"}
        data.update(kw)
        product = Product(**data)
        db.session.add(product)
        db.session.commit()
        return product

    return make


@pytest.fixture
def make_equipment(db, make_customer, make_product):
    from fieldservice.customers.models import Equipment

    def make(customer=None, product=None, **kw):
        n = next(_counter)
        customer = customer or make_customer()
        product = product or make_product()
        data = {"customer_id": customer.id, "product_id": product.id, "serial_number": f"SN{n:08d}", **kw}
        equipment = Equipment(**data)
        db.session.add(equipment)
        db.session.commit()
        return equipment

    return make


@pytest.fixture
def redis_url():
    if not REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")
    return worker_redis_url(REDIS_URL, XDIST_WORKER)


@pytest.fixture
def worker_app(app_config, _schema, redis_url):
    """An app whose jobs go to rq on real Redis, with its queues emptied before and after."""
    from fieldservice.core.jobs import redis_connection

    app = create_app({**app_config, "REDIS_URL": redis_url})
    with app.app_context():
        # The test Redis database belongs to the tests: start and end empty (queues, locks, periodic slots).
        redis_connection().flushdb()
        yield app
        redis_connection().flushdb()
        _db.session.remove()
        _truncate_all()
        _db.engine.dispose()


@pytest.fixture
def run_worker(worker_app):
    """Run a real rq worker over the queues until they are empty; returns how many jobs it finished."""
    from rq import SimpleWorker
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    from fieldservice.core.jobs import QUEUES, get_queue, redis_connection

    def run() -> int:
        queues = [get_queue(n) for n in QUEUES]
        before = sum(FinishedJobRegistry(queue=q).count for q in queues)
        SimpleWorker(queues, connection=redis_connection()).work(burst=True)
        failed = [job_id for q in queues for job_id in FailedJobRegistry(queue=q).get_job_ids()]
        assert not failed, f"jobs failed in the worker: {failed}"
        return sum(FinishedJobRegistry(queue=q).count for q in queues) - before

    return run


@pytest.fixture
def make_engineer(db, make_user):
    """make_engineer(skills=["water_purifier"], zone="浦东", ...) -> an Engineer with a login (password123)."""
    from fieldservice.engineers.models import Engineer, EngineerSkill

    def make(skills=("water_purifier",), zone="浦东", lat=31.22, lng=121.54, max_open_jobs=5, **kw):
        user = make_user("engineer", name=kw.pop("name", None) or "")
        engineer = Engineer(
            user_id=user.id,
            name=user.name or user.username,
            zone=zone,
            lat=lat,
            lng=lng,
            max_open_jobs=max_open_jobs,
            skills=[EngineerSkill(category=c) for c in skills],
            **kw,
        )
        db.session.add(engineer)
        db.session.commit()
        return engineer

    return make


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(app, app_config):
    """The app served over real HTTP on a free port (a second app on the same database), for the browser tests."""
    with serving(create_app(app_config)) as server:
        yield server


@pytest.fixture
def browser():
    """Debian's chromium driven by Playwright (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
