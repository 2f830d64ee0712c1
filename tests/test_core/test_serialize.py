"""core.serialize: the compiled dump says exactly what marshmallow's dump says."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import marshmallow as ma
import pytest

from fieldservice.core.serialize import compiled, dump_many


class Inner(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class Outer(ma.Schema):
    id = ma.fields.Integer()
    label = ma.fields.Function(lambda obj: f"#{obj.id}")
    title = ma.fields.String(attribute="name", data_key="title")
    flag = ma.fields.Boolean()
    when = ma.fields.AwareDateTime(allow_none=True)
    plain_when = ma.fields.DateTime()
    price = ma.fields.Decimal(as_string=True)
    score = ma.fields.Float()
    tags = ma.fields.List(ma.fields.String())
    inner = ma.fields.Nested(Inner, allow_none=True)
    brief = ma.fields.Nested(Inner, only=("name",))
    secret = ma.fields.String(load_only=True)
    rfc = ma.fields.DateTime(format="rfc")


class Hooked(Inner):
    @ma.post_dump
    def shout(self, data, **kwargs):
        return {**data, "name": data["name"].upper()}


def _objects():
    utc = dt.UTC
    return [
        SimpleNamespace(
            id=1,
            name="张三",
            flag=1,
            when=dt.datetime(2026, 11, 23, 8, 30, tzinfo=utc),
            plain_when=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=utc),
            price=Decimal("12.50"),
            score=3,
            tags=["a", "b"],
            inner=SimpleNamespace(id=7, name="内"),
            brief=SimpleNamespace(id=8, name="简"),
            rfc=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=utc),
            secret="x",
        ),
        SimpleNamespace(
            id=2,
            name=None,
            flag=False,
            when=None,
            plain_when=dt.datetime(2026, 1, 2, tzinfo=utc),
            price=Decimal("0"),
            score=0.5,
            tags=[],
            inner=None,
            brief=None,
            rfc=None,
            secret=None,
        ),
        # A row that lacks some attributes (marshmallow leaves their keys out).
        SimpleNamespace(id=4, name="partial"),
    ]


def test_compiled_dump_equals_marshmallow_dump():
    schema = Outer()
    for obj in _objects():
        assert compiled(schema)(obj) == schema.dump(obj)
    assert dump_many(schema, _objects()) == schema.dump(_objects(), many=True)


def test_mappings_are_read_by_key():
    schema = Inner()
    for obj in ({"id": 3, "name": "map"}, {"id": "4"}, {}):
        assert compiled(schema)(obj) == schema.dump(obj)


def test_schemas_with_dump_hooks_are_left_to_marshmallow():
    obj = SimpleNamespace(id=1, name="abc")
    assert compiled(Hooked())(obj) == {"id": 1, "name": "ABC"}


def test_the_request_list_schema_compiles_to_the_same_json(db, client):
    """ServiceRequestSchema in its hottest use is also checked on every list the suite reads
    (CHECK_COMPILED_DUMPS); here on an object with every nested brief missing."""
    from fieldservice.requests.schemas import ServiceRequestSchema

    sr = SimpleNamespace(
        **{**{name: None for name in ServiceRequestSchema().dump_fields}, "status": "awaiting_assignment", "id": 5}
    )
    schema = ServiceRequestSchema()
    with client.application.test_request_context():
        assert compiled(schema)(sr) == schema.dump(sr)


def test_a_projection_refuses_what_it_cannot_read_as_columns(app):
    from fieldservice.core.serialize import Projection
    from fieldservice.requests.models import ServiceRequest

    class Computed(ma.Schema):
        id = ma.fields.Integer()
        shout = ma.fields.Method("upper")

        def upper(self, obj):
            return obj.name.upper()

    class Events(ma.Schema):
        events = ma.fields.Nested(Inner, many=True)

    class NotARelation(ma.Schema):
        number = ma.fields.Nested(Inner)

    class NotAColumn(ma.Schema):
        actions = ma.fields.List(ma.fields.String())

    for schema in (Computed(), Events(), NotARelation(), NotAColumn()):
        with pytest.raises(TypeError):
            Projection(schema, ServiceRequest)


def test_compiled_responses_dump_as_marshmallow_and_are_checked(app):
    from fieldservice.core.serialize import check_compiled, compiled_response

    objs = _objects()[:2]
    schema = compiled_response(Outer())
    assert schema.dump(objs[0]) == Outer().dump(objs[0])
    assert schema.dump(objs, many=True) == Outer().dump(objs, many=True)
    assert compiled_response(Outer(many=True)).dump(objs) == Outer().dump(objs, many=True)
    assert compiled_response(Hooked()).dump(SimpleNamespace(id=1, name="abc")) == {"id": 1, "name": "ABC"}
    # CHECK_COMPILED_DUMPS (set for the suite) catches a compiled dump that says something else.
    with app.test_request_context():
        check_compiled(Inner(), SimpleNamespace(id=1, name="x"), False, {"id": 1, "name": "x"})
        with pytest.raises(AssertionError):
            check_compiled(Inner(), SimpleNamespace(id=1, name="x"), False, {"id": -1})
