"""The JSON API: flask-smorest blueprints, marshmallow schemas and the OpenAPI document."""

from collections.abc import Mapping

import marshmallow as ma
from apispec.ext.marshmallow.common import resolve_schema_instance
from flask_smorest import Api as _SmorestApi
from flask_smorest import Blueprint as _SmorestBlueprint
from webargs.flaskparser import FlaskParser

from fieldservice.core.fields import DecimalString, decimal_string_pattern
from fieldservice.extensions import csrf, db


class Api(_SmorestApi):
    ERROR_SCHEMA = None  # set below: the documented error body is API.md's envelope

    def _register_error_handlers(self):
        """Leave errors to fieldservice.core.errors: one format for the whole API."""


_QUERY_BOOLEANS = {"true", "false", "1", "0"}


def _coerced(field: ma.fields.Field, value, location: str) -> list[str] | dict | None:
    """What is wrong with *value* for *field* that marshmallow would quietly coerce, else None."""
    if value is None:
        return None
    if isinstance(field, ma.fields.Nested):
        schema = field.schema
        if field.many:
            if not isinstance(value, list):
                return None
            found = {i: e for i, item in enumerate(value) if (e := strict_type_errors(schema, item, location))}
            return found or None
        return strict_type_errors(schema, value, location) or None
    if isinstance(field, ma.fields.List):
        if not isinstance(value, list):
            return None
        found = {i: e for i, item in enumerate(value) if (e := _coerced(field.inner, item, location))}
        return found or None
    if isinstance(field, ma.fields.Boolean):
        if location == "query":
            ok = isinstance(value, str) and value.lower() in _QUERY_BOOLEANS
        else:
            ok = isinstance(value, bool)
        return None if ok else ["Not a valid boolean: send true or false."]
    if isinstance(field, ma.fields.Integer) and isinstance(value, float) and not value.is_integer():
        return ["Not a valid integer."]
    return None


def strict_type_errors(schema: ma.Schema, data, location: str = "json") -> dict:
    """The fields of *data* (to be loaded by *schema*) that marshmallow would coerce rather than refuse: a
    boolean given as "yes", "on" or 1 (JSON takes true or false; a query string true, false, 1 or 0), an integer
    given with a fraction (1.5 would load as 1). Keyed as marshmallow keys its messages."""
    if not isinstance(data, Mapping):
        return {}
    errors = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if key in data and (problem := _coerced(field, data[key], location)):
            errors[key] = problem
    return errors


class StrictParser(FlaskParser):
    """webargs' parser, refusing the values marshmallow would coerce (see strict_type_errors)."""

    def pre_load(self, location_data, *, schema, req, location):
        if errors := strict_type_errors(schema, location_data, location):
            raise ma.ValidationError(errors)
        return location_data


class Blueprint(_SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()

    def arguments(self, schema, **kwargs):
        """flask-smorest's arguments, given one schema instance: webargs builds a new instance of a schema class
        on every request (marshmallow copies all its fields for that)."""
        return super().arguments(resolve_schema_instance(schema), **kwargs)


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    """A blueprint under /api/v1, exempt from CSRF (the API authenticates with bearer tokens only)."""
    blueprint = Blueprint(name, import_name, url_prefix="/api/v1", description=description)
    csrf.exempt(blueprint)
    return blueprint


class ErrorSchema(ma.Schema):
    """API.md's error body; some answers add fields of their own (a 409's current_status or current_version,
    an import's rows), so more properties are allowed."""

    class Meta:
        unknown = ma.INCLUDE

    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    fields = ma.fields.Dict(keys=ma.fields.String())


class ErrorEnvelope(ma.Schema):
    error = ma.fields.Nested(ErrorSchema, required=True)


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class VersionArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))


Api.ERROR_SCHEMA = ErrorEnvelope


def paged(select, page: int, per_page: int, total: int | None = None):
    """(the number of rows *select* gives, *select* limited to one page of them). A caller that knows the number
    another way (kept counts) passes it as *total*."""
    from sqlalchemy import func, literal
    from sqlalchemy import select as sa_select

    if total is None:
        total = db.session.scalar(sa_select(func.count()).select_from(select.order_by(None).subquery()))
    # LIMIT and OFFSET written into the SQL rather than bound: PostgreSQL then plans the prepared statement
    # once (a generic plan) instead of planning each page anew for a LIMIT it cannot see.
    offset = (page - 1) * per_page
    return total, select.limit(literal(per_page, literal_execute=True)).offset(literal(offset, literal_execute=True))


def page_of(select, schema, page: int, per_page: int) -> dict:
    """Run *select* (of one model, filtered and sorted) for one page and dump {items, total, page, per_page}
    with *schema* (or any object with a marshmallow-like dump(rows, many=True))."""
    total, one_page = paged(select, page, per_page)
    items = schema.dump(db.session.scalars(one_page).all(), many=True)
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def _schema_name(schema) -> str | None:
    """Name a schema after its class; inline the trimmed or partial variants instead of renaming them."""
    from apispec.ext.marshmallow.common import resolve_schema_cls, resolve_schema_instance

    instance = resolve_schema_instance(schema)
    if instance.only or instance.exclude or instance.partial:
        return None
    name = resolve_schema_cls(schema).__name__
    return name[: -len("Schema")] if name.endswith("Schema") and name != "Schema" else name


def init_api(app, blueprints) -> Api:
    """Create the app's Api (one per app: tests build many apps) and register *blueprints* on it."""
    from apispec.ext.marshmallow import MarshmallowPlugin

    api = Api(
        app,
        spec_kwargs={
            "info": {"description": "fieldservice HTTP API. Log in with POST /api/v1/auth/token."},
            "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=_schema_name),
        },
    )
    api.register_field(DecimalString, "string", None)
    api.ma_plugin.converter.add_attribute_function(decimal_string_pattern)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    return api
