"""fieldservice: after-sales field service run as a closed loop."""

import logging
import os

from flask import Flask

# The domains, each a package with the same file names. Order matters only for the navigation.
DOMAINS = [
    "auth",
    "customers",
    "engineers",
    "contracts",
    "knowledge",
    "parts",
    "requests",
    "appointments",
    "dispatch",
    "settlement",
    "billing",
    "sync",
    "reports",
    "selfservice",
    "revisits",
    "complaints",
    "analytics",
    "notifications",
]


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings, extensions, domains, errors, CLI."""
    # Imported here, not at the top: the package root stays light, so that importing one module of a domain
    # (a job, a migration, the CLI) does not import every domain through the factory.
    from fieldservice import setup
    from fieldservice.config import load_config

    # Static files belong to the blueprints (core serves /static), not to the app.
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path, config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    setup.init_logging(app)
    setup.init_proxy(app)
    setup.init_extensions(app)
    setup.init_i18n(app)
    setup.init_auth(app)
    setup.guard_input(app)
    domains = setup.import_domains(DOMAINS)
    setup.register_console(app, domains)
    setup.register_api(app, domains)
    setup.register_errors(app)
    setup.register_jobs(app, domains)
    setup.register_cli(app)
    return app
