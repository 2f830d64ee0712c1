"""The dashboard's figures as JSON: the same numbers as the console page and its CSV files."""

from fieldservice.analytics import queries
from fieldservice.analytics.permissions import ANALYTICS_READ
from fieldservice.analytics.schemas import DashboardSchema, FilterArgs, TableSchema
from fieldservice.auth.permissions import require
from fieldservice.core.api import api_blueprint
from fieldservice.core.errors import NotFound

blp = api_blueprint("analytics_api", __name__, "Service analytics: KPIs against targets and the breakdowns")


@blp.route("/analytics/dashboard")
@require(ANALYTICS_READ)
@blp.arguments(FilterArgs, location="query")
@blp.response(200, DashboardSchema)
def dashboard(filters):
    """Totals, the KPIs of DOMAIN.md against their targets, and every table, for the filters given."""
    return queries.dashboard(filters)


@blp.route("/analytics/tables/<name>")
@require(ANALYTICS_READ)
@blp.arguments(FilterArgs, location="query")
@blp.response(200, TableSchema)
def table(filters, name):
    """One table of the dashboard (problem_types, products, agreements, service_items, channels, trend,
    parts, complaints, engineers)."""
    if name not in queries.TABLES:
        raise NotFound("no_such_table", f"There is no analytics table {name!r}.")
    return queries.table(name, filters)
