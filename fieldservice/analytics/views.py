"""The manager's dashboard: filters, KPIs against targets, charts, tables and their CSV files."""

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from fieldservice.analytics import export, queries
from fieldservice.analytics.filters import Filters
from fieldservice.analytics.permissions import ANALYTICS_READ
from fieldservice.analytics.schemas import FilterArgs
from fieldservice.auth.permissions import require
from fieldservice.console.navigation import add_nav
from fieldservice.core.errors import NotFound
from fieldservice.customers.categories import category_label

bp = Blueprint(
    "analytics",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/analytics/static",
)

add_nav("analytics.dashboard", _l("Analytics"), ANALYTICS_READ, order=80, group="analytics")


def _filters() -> tuple[Filters, dict]:
    """The filters of the query string, and the errors of the fields that were wrong (then ignored)."""
    raw = {k: v for k, v in request.args.items() if k in FilterArgs().fields and v}
    try:
        return FilterArgs().load(raw), {}
    except ValidationError as exc:
        good = {k: v for k, v in raw.items() if k not in exc.messages}
        try:
            return FilterArgs().load(good), exc.messages
        except ValidationError:
            return Filters(), exc.messages


@bp.route("/analytics/")
@require(ANALYTICS_READ)
def dashboard():
    filters, errors = _filters()
    data = queries.dashboard(filters)
    return render_template(
        "analytics/dashboard.html",
        data=data,
        filters=filters,
        errors=errors,
        zones=queries.zones(),
        categories=[(c, category_label(c)) for c in queries.categories()],
        query={k: v for k, v in filters.as_dict().items() if v},
        unit_labels=queries.UNIT_LABELS,
    )


@bp.route("/analytics/export/<name>.csv")
@require(ANALYTICS_READ)
def export_csv(name: str):
    filters, _ = _filters()
    if name == "kpis":
        body = export.kpis_csv(queries.overview(filters))
    elif name in queries.TABLES:
        body = export.table_csv(queries.table(name, filters))
    else:
        raise NotFound("no_such_table", f"There is no analytics table {name!r}.")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="analytics-{name}.csv"'},
    )
