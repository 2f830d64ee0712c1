"""A marshmallow schema's dump compiled into plain functions, for the pages that dump many rows at once.

The schema stays the contract (OpenAPI, detail responses): `compiled(schema)` reads its fields once and returns a
function that gives exactly what `schema.dump(obj)` gives, at a fraction of the cost: marshmallow resolves each
field's accessor, default and options for every value, which for a page of 50 requests with their customers is
some 2,500 calls. With CHECK_COMPILED_DUMPS (the test suite) core.api.page_of dumps every page both ways and
compares them; tests/test_core/test_serialize.py covers each field kind.

Fields it knows (Integer, Float, String, Boolean, DateTime with the ISO format, Nested, Function, List of those)
are read and converted by generated straight-line code; any other field (Method, Decimal...) is still serialized
by marshmallow itself. A schema with dump hooks (pre_dump, post_dump) is left to marshmallow whole.
"""

import datetime as dt
from collections.abc import Callable, Mapping

import marshmallow as ma
from marshmallow import missing

_SKIP = object()
_cache: dict[tuple, Callable] = {}


def _get(obj, attr: str):
    if isinstance(obj, Mapping):
        return obj.get(attr, _SKIP)
    return getattr(obj, attr, _SKIP)


def _converter(field: ma.fields.Field) -> Callable | None:
    """value -> serialized value (None stays None), or None when marshmallow must do it."""
    kind = type(field)
    if kind in (ma.fields.Integer, ma.fields.Int) and not field.as_string:
        return int
    if kind is ma.fields.Float and not field.as_string:
        return float
    if kind in (ma.fields.String, ma.fields.Str):
        return str
    if kind in (ma.fields.Boolean, ma.fields.Bool):
        truthy, falsy = field.truthy, field.falsy
        return lambda value: True if value in truthy else False if value in falsy else bool(value)
    if (
        isinstance(field, ma.fields.DateTime)
        and kind._serialize is ma.fields.DateTime._serialize
        and (field.format or field.DEFAULT_FORMAT) == "iso"
        and field.SERIALIZATION_FUNCS.get("iso") is dt.datetime.isoformat
    ):
        return dt.datetime.isoformat
    return None


def _compile_field(name: str, field: ma.fields.Field) -> tuple[str, Callable | None, Callable | None]:
    """How to get the field's value: ("attr", attribute, converter) for a plain value read straight off the
    object (None stays None), or ("call", function of the object, None) giving the value or _SKIP."""
    attr = field.attribute or name
    if type(field) is ma.fields.Function:
        func = field.serialize_func
        return ("call", func if func is not None else (lambda obj: _SKIP), None)
    if type(field) is ma.fields.Nested and not field.many:
        inner = compiled(field.schema)

        def nested(obj):
            value = _get(obj, attr)
            if value is _SKIP or value is None:
                return value
            return inner(value)

        return ("call", nested, None)
    if type(field) is ma.fields.List and "." not in attr:
        convert = _converter(field.inner)
        if convert is not None:

            def many(obj):
                value = _get(obj, attr)
                if value is _SKIP or value is None:
                    return value
                return [None if v is None else convert(v) for v in value]

            return ("call", many, None)
    convert = _converter(field)
    if convert is not None and "." not in attr and field.dump_default is missing and attr.isidentifier():
        return ("attr", attr, convert)

    def fallback(obj):
        value = field.serialize(attr, obj)
        return _SKIP if value is missing else value

    return ("call", fallback, None)


def _generate(parts: list[tuple[str, tuple]]) -> Callable[[object], dict]:
    """Write the dump of one object as straight-line Python (no loop, no call per plain field)."""
    env: dict = {"_SKIP": _SKIP, "_Mapping": Mapping}
    lines_obj, lines_map = [], []
    for i, (key, (how, what, convert)) in enumerate(parts):
        env[f"k{i}"] = key
        if how == "attr":
            env[f"c{i}"] = convert
            reads = ((lines_obj, f"getattr(obj, {what!r}, _SKIP)"), (lines_map, f"obj.get({what!r}, _SKIP)"))
            for lines, read in reads:
                lines.append(f"    v = {read}")
                lines.append(f"    if v is not _SKIP: out[k{i}] = v if v is None else c{i}(v)")
        else:
            env[f"f{i}"] = what
            for lines in (lines_obj, lines_map):
                lines.append(f"    v = f{i}(obj)")
                lines.append(f"    if v is not _SKIP: out[k{i}] = v")
    source = "\n".join(
        [
            "def dump(obj):",
            "    if isinstance(obj, _Mapping):",
            "        return dump_mapping(obj)",
            "    out = {}",
            *lines_obj,
            "    return out",
            "def dump_mapping(obj):",
            "    out = {}",
            *lines_map,
            "    return out",
        ]
    )
    exec(compile(source, "<fieldservice.core.serialize>", "exec"), env)  # noqa: S102 - our own generated code
    return env["dump"]


def compiled(schema: ma.Schema) -> Callable[[object], dict]:
    """A function giving what *schema*.dump(obj) gives for one object, built once per schema shape."""
    only = tuple(schema.only) if schema.only is not None else None
    key = (type(schema), only, tuple(schema.exclude))
    dump = _cache.get(key)
    if dump is not None:
        return dump
    if schema._hooks.get("pre_dump") or schema._hooks.get("post_dump"):

        def dump(obj):
            return marshmallow_dump(schema, obj, many=False)

    else:
        dump = _generate(
            [(field.data_key or name, _compile_field(name, field)) for name, field in schema.dump_fields.items()]
        )
    _cache[key] = dump
    return dump


def marshmallow_dump(schema: ma.Schema, obj, many: bool):
    """marshmallow's own dump, even on a schema whose `dump` is the compiled one (compiled_response)."""
    return type(schema).dump(schema, obj, many=many)


def dump_many(schema: ma.Schema, objs) -> list[dict]:
    if not isinstance(schema, ma.Schema):  # an object with its own dump(rows, many=True) (revisits' queue)
        return schema.dump(objs, many=True)
    dump = compiled(schema)
    return [dump(obj) for obj in objs]


def check_compiled(schema: ma.Schema, obj, many: bool, result) -> None:
    """With CHECK_COMPILED_DUMPS (the test suite): fail unless *result* is what marshmallow dumps of *obj*."""
    from flask import current_app

    if current_app.config.get("CHECK_COMPILED_DUMPS"):
        expected = marshmallow_dump(schema, obj, many)
        if result != expected:
            raise AssertionError(f"compiled dump of {type(schema).__name__} differs: {result} != {expected}")


def compiled_response(schema: ma.Schema) -> ma.Schema:
    """*schema* (an instance of its own) with its `dump` replaced by the compiled one: for the API's responses,
    which flask-smorest dumps with `schema.dump(result)`. The OpenAPI document reads its fields as before."""
    if getattr(schema, "_compiled_response", False) or type(schema).dump is not ma.Schema.dump:
        return schema
    one = compiled(schema)

    def dump(obj, *, many: bool | None = None):
        many = schema.many if many is None else bool(many)
        result = [one(item) for item in obj] if many else one(obj)
        check_compiled(schema, obj, many, result)
        return result

    schema.dump = dump
    schema._compiled_response = True
    return schema


# ---------------------------------------------------------------- projections: lists without ORM entities


class Projection:
    """A schema's dump of a model, read as one flat row per object instead of loaded ORM entities.

    For the long lists (the dispatch list): loading 50 requests with their customer, product, equipment and
    engineer builds some 250 ORM objects, several times the cost of the query itself. A projection reads the
    page of the model's rows first (the caller's select: its filters, order, LIMIT and OFFSET, as a subquery),
    then joins each nested many-to-one relation to those rows only (outer join, aliased) and selects the columns
    the schema dumps. Generated code dumps each result row by position.

    Paging before joining keeps the plan the same whatever the filters: with the joins outside, PostgreSQL
    would join every matching row before sorting when no index gives the order (all statuses: 100,000 rows).

    What it can project: fields that are columns of the model, Nested fields (not many) over a many-to-one
    relation whose schema has only such column fields, and Function fields, which are given the row itself (its
    columns by attribute name, as on the object). Anything else raises TypeError when the projection is built.
    With CHECK_COMPILED_DUMPS, core.api.page_of also loads the page as entities and compares the two dumps.
    """

    def __init__(self, schema: ma.Schema, model):
        import sqlalchemy as sa
        from sqlalchemy.orm import RelationshipDirection

        self.schema = schema
        mapper = sa.inspect(model)
        self.table = mapper.local_table
        # (label, function of the page subquery giving the column), in the order the dump reads them.
        self.columns: list[tuple[str, Callable]] = []
        # (alias, [(alias column, the model's column it joins on)]) for each nested relation.
        self.joins: list[tuple] = []
        env: dict = {"_SKIP": _SKIP}
        lines: list[str] = []

        def column_of(target_mapper, attr: str, where: str):
            prop = target_mapper.attrs.get(attr)
            if prop is None or not hasattr(prop, "columns") or len(prop.columns) != 1:
                owner = target_mapper.class_.__name__
                raise TypeError(f"{type(schema).__name__}: {where} is not a column of {owner}")
            return prop.columns[0]

        def read(label: str, column_from) -> int:
            self.columns.append((label, column_from))
            return len(self.columns) - 1

        def plain(field, key: str, label: str, column_from, indent: str, out: str):
            index = read(label, column_from)
            env[f"k{index}"] = key
            env[f"c{index}"] = _converter(field) or _serializer_of(field, field.attribute or key)
            lines.append(f"{indent}v = row[{index}]")
            lines.append(f"{indent}{out}[k{index}] = v if v is None else c{index}(v)")

        for number, (name, field) in enumerate(schema.dump_fields.items()):
            kind, key = type(field), field.data_key or name
            if kind is ma.fields.Function:
                env[f"f{number}"], env[f"fk{number}"] = field.serialize_func, key
                lines.append(f"    v = f{number}(row)")
                lines.append(f"    if v is not _SKIP: out[fk{number}] = v")
            elif kind is ma.fields.Nested and not field.many:
                attr = field.attribute or name
                relation = mapper.relationships.get(attr)
                if relation is None or relation.direction is not RelationshipDirection.MANYTOONE:
                    raise TypeError(f"{type(schema).__name__}.{name}: not a many-to-one relation of {model.__name__}")
                inner = field.schema
                if inner._hooks.get("pre_dump") or inner._hooks.get("post_dump"):
                    raise TypeError(f"{type(schema).__name__}.{name}: a nested schema with dump hooks")
                alias = relation.mapper.local_table.alias(f"{attr}_")
                self.joins.append(
                    (alias, [(alias.c[remote.key], local) for local, remote in relation.local_remote_pairs])
                )
                (pk,) = relation.mapper.primary_key
                present = read(f"{attr}__pk", lambda page, alias=alias, pk=pk: alias.c[pk.key])
                env[f"n{present}"] = key
                lines.append(f"    if row[{present}] is None: out[n{present}] = None")
                lines.append("    else:")
                lines.append(f"        inner = out[n{present}] = {{}}")
                for sub_name, sub_field in inner.dump_fields.items():
                    if type(sub_field) not in _PLAIN_KINDS:
                        raise TypeError(f"{type(inner).__name__}.{sub_name}: only column fields nest in a projection")
                    column = column_of(relation.mapper, sub_field.attribute or sub_name, f"{name}.{sub_name}")
                    column_from = lambda page, alias=alias, key=column.key: alias.c[key]  # noqa: E731
                    label = f"{attr}__{sub_field.attribute or sub_name}"
                    plain(sub_field, sub_field.data_key or sub_name, label, column_from, "        ", "inner")
            elif kind in _PLAIN_KINDS:
                # Labelled with the attribute's name: a Function field reads the row as it would the object.
                column = column_of(mapper, field.attribute or name, name)
                column_from = lambda page, key=column.key: page.c[key]  # noqa: E731
                plain(field, key, field.attribute or name, column_from, "    ", "out")
            else:
                raise TypeError(f"{type(schema).__name__}.{name}: a {kind.__name__} field cannot be projected")
        source = "\n".join(["def dump(row):", "    out = {}", *lines, "    return out"])
        exec(compile(source, "<fieldservice.core.serialize.Projection>", "exec"), env)  # noqa: S102 - our own code
        self.dump = env["dump"]

    def select(self, query):
        """The rows to dump for *query*: a select of the model, filtered, sorted and paged."""
        import sqlalchemy as sa
        from sqlalchemy.sql.util import ClauseAdapter

        page = query.with_only_columns(*self.table.c, maintain_column_froms=False).subquery("page")
        adapt = ClauseAdapter(page).traverse
        projected = sa.select(*(column_from(page).label(label) for label, column_from in self.columns))
        source = page
        for alias, pairs in self.joins:
            source = source.outerjoin(alias, sa.and_(*(remote == page.c[local.key] for remote, local in pairs)))
        # The page's order again (a join need not keep it), on the subquery's columns.
        return projected.select_from(source).order_by(*(adapt(clause) for clause in query._order_by_clauses))


_PLAIN_KINDS = (
    ma.fields.Integer,
    ma.fields.Float,
    ma.fields.String,
    ma.fields.Boolean,
    ma.fields.DateTime,
    ma.fields.AwareDateTime,
    ma.fields.NaiveDateTime,
    ma.fields.Date,
    ma.fields.Decimal,
    ma.fields.Email,
    ma.fields.URL,
    ma.fields.UUID,
    ma.fields.Raw,
)


def _serializer_of(field: ma.fields.Field, attr: str) -> Callable:
    """A value's dump by the field itself, for the kinds the generated code does not convert (Decimal...)."""

    def convert(value):
        return field.serialize(attr, {attr: value})

    return convert
