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
    """A function giving what *schema*.dump(obj) gives (one object), built once per schema shape."""
    only = tuple(schema.only) if schema.only is not None else None
    key = (type(schema), only, tuple(schema.exclude), schema.many)
    dump = _cache.get(key)
    if dump is not None:
        return dump
    if schema._hooks.get("pre_dump") or schema._hooks.get("post_dump") or schema.many:

        def dump(obj):
            return schema.dump(obj)

    else:
        dump = _generate(
            [(field.data_key or name, _compile_field(name, field)) for name, field in schema.dump_fields.items()]
        )
    _cache[key] = dump
    return dump


def dump_many(schema: ma.Schema, objs) -> list[dict]:
    if not isinstance(schema, ma.Schema):  # an object with its own dump(rows, many=True) (revisits' queue)
        return schema.dump(objs, many=True)
    dump = compiled(schema)
    return [dump(obj) for obj in objs]
