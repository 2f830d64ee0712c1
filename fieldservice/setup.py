"""The steps of create_app(), one function each."""

import importlib
import os
from types import ModuleType

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from fieldservice.auth import operations as auth_operations
from fieldservice.auth.models import SessionKind
from fieldservice.cli import register as register_commands
from fieldservice.console import views as console_views
from fieldservice.core import (
    formatting,
    numbering,  # noqa: F401  (its table belongs to the schema)
    ratelimit,  # noqa: F401  (its table belongs to the schema)
    sweep,  # noqa: F401  (registers the periodic sweep)
)
from fieldservice.core import views as core_views
from fieldservice.core.api import init_api
from fieldservice.core.errors import register_error_handlers
from fieldservice.core.guard import init_guard
from fieldservice.core.headers import init_headers
from fieldservice.core.jobs import dispatch_committed_jobs
from fieldservice.core.logmask import install_log_masking
from fieldservice.extensions import babel, csrf, db, login_manager, migrate


def init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _enable_sqlite_foreign_keys(app)


def _migrations_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def _enable_sqlite_foreign_keys(app: Flask) -> None:
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        @event.listens_for(engine, "savepoint")
        def _on_savepoint(connection, _name):
            # The sqlite3 module begins a transaction before an INSERT, UPDATE or DELETE only, not before a
            # SAVEPOINT: a savepoint opened first (begin_nested after reads) was then the transaction itself, and
            # releasing it committed, whatever the request did next (an import with a bad line kept its good
            # lines). Begin the transaction first, as the module would have.
            driver = connection.connection.driver_connection
            if not driver.in_transaction:
                driver.execute("BEGIN")


def init_logging(app: Flask) -> None:
    """Keep customers' public tokens out of the request logs and ours (core.logmask)."""
    install_log_masking()


def init_proxy(app: Flask) -> None:
    """Trust X-Forwarded-For/-Proto/-Host from the configured number of proxies, and from nobody else."""
    proxies = app.config["FIELDSERVICE_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        # Jobs, the sweep and the CLI translate too (labels, timeline notes): in the site's default language.
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = request.args.get("lang") if request else None
    if lang in languages:
        return lang
    if session.get("lang") in languages:
        return session["lang"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    header = request.accept_languages
    best = header.best_match(["zh-Hans", "zh-CN", "zh", "en"]) if header else None
    if best is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return "en" if best == "en" else "zh_Hans"


def init_i18n(app: Flask) -> None:
    import os

    here = os.path.dirname(__file__)
    # Each domain keeps its own catalog (fieldservice/<domain>/translations); Flask-Babel merges them.
    directories = [
        os.path.join(here, name, "translations")
        for name in sorted(os.listdir(here))
        if os.path.isdir(os.path.join(here, name, "translations"))
    ]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(directories)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: app.config["FIELDSERVICE_TIMEZONE"])

    formatting.register(app)


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"

    @app.before_request
    def _forget_cached_user():
        # Flask reuses an already pushed app context (tests and CLI do push one); the user cached in `g` by an
        # earlier request must never authenticate this one, nor its locale (Flask-Babel caches it in `g`) speak in it.
        g.pop("_login_user", None)
        g.pop("login_session", None)
        refresh()

    @login_manager.user_loader
    def load_user(login_key: str):
        # The API never authenticates with the session cookie (no CSRF there): bearer tokens only. The cookie (and
        # the remember cookie) carries a console login's key: an ended login loads nobody.
        if request.path.startswith("/api/"):
            return None
        login = auth_operations.session_for_key(login_key, SessionKind.CONSOLE)
        if login is None:
            return None
        g.login_session = login
        return login.user

    @login_manager.request_loader
    def load_user_from_header(req):
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        login = auth_operations.session_for_token(header[len("Bearer ") :].strip())
        if login is None:
            return None
        g.login_session = login
        return login.user


def import_domains(names: list[str]) -> list[ModuleType]:
    """Import each domain's modules that exist (models first, so every table is known)."""
    domains = []
    for name in names:
        package = importlib.import_module(f"fieldservice.{name}")
        for part in ("models", "api", "views", "jobs", "cli"):
            try:
                setattr(package, part, importlib.import_module(f"fieldservice.{name}.{part}"))
            except ModuleNotFoundError as exc:
                if exc.name != f"fieldservice.{name}.{part}":
                    raise
        domains.append(package)
    return domains


def register_console(app: Flask, domains: list[ModuleType]) -> None:
    app.register_blueprint(core_views.bp)
    app.register_blueprint(console_views.bp)
    for domain in domains:
        views = getattr(domain, "views", None)
        if views is not None:
            app.register_blueprint(views.bp)


def register_api(app: Flask, domains: list[ModuleType]) -> None:
    init_api(app, [d.api.blp for d in domains if getattr(d, "api", None) is not None])


def register_errors(app: Flask) -> None:
    register_error_handlers(app)


def register_jobs(app: Flask, domains: list[ModuleType]) -> None:
    @app.after_request
    def _dispatch(response):
        dispatch_committed_jobs()
        return response


def register_cli(app: Flask) -> None:
    register_commands(app)


def guard_input(app: Flask) -> None:
    """Refuse input no handler should see (core/guard.py); before any route is added, for the `int` converter."""
    init_guard(app)
    init_headers(app)
