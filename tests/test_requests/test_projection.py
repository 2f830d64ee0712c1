"""requests.projection: the request list read as plain rows says exactly what ServiceRequestSchema dumps."""

from datetime import timedelta
from decimal import Decimal

import marshmallow as ma
import pytest
import sqlalchemy as sa

from fieldservice.core.api import paged
from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops
from fieldservice.requests.models import ServiceRequest
from fieldservice.requests.projection import ListProjection
from fieldservice.requests.schemas import ServiceRequestSchema


@pytest.fixture
def varied_requests(db, make_request, make_equipment, make_user, engineer):
    """Requests with and without product, equipment and engineer, in several states and orders."""
    base = utcnow() + timedelta(days=1)
    dispatcher = make_user("dispatcher")
    unit = make_equipment()
    requests = [
        make_request(required_by=base, priority=2, contact_name="李先生", contact_phone="13900001111"),
        make_request(
            required_by=base,
            priority=1,
            customer=unit.customer,
            equipment_id=unit.id,
            product_id=unit.product_id,
        ),
        make_request(required_by=base + timedelta(hours=1), priority=2),
        make_request(required_by=base - timedelta(hours=1), priority=4, product_id=None, service_category="misc"),
        make_request(required_by=base + timedelta(hours=2), priority=3, suspended=True),
    ]
    ops.perform(requests[2], "assign", dispatcher, engineer_id=engineer.id)
    ops.perform(requests[1], "assign", dispatcher, engineer_id=engineer.id)
    ops.perform(requests[1], "accept", engineer.user)
    ops.perform(requests[0], "cancel", dispatcher, reason="客户取消")
    db.session.commit()
    db.session.expire_all()
    return requests


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"sort": "response_due"},
        {"sort": "priority"},
        {"sort": "created"},
        {"sort": "-created"},
        {"status": ["assigned", "cancelled"]},
        {"status": ["awaiting_assignment"], "sort": "priority"},
        {"priority": 2},
        {"overdue": False},
    ],
)
def test_a_page_read_as_rows_dumps_as_the_schema_dumps_the_entities(app, db, varied_requests, filters):
    from fieldservice.requests.api import LIST  # the app's own, as the handler calls it

    query = ops.filter_requests(sa.select(ServiceRequest), **{"sort": "due", **filters})
    schema = ServiceRequestSchema()
    compared = 0
    for page in (1, 2):
        _, one_page = paged(query, page, 3)
        expected = schema.dump(db.session.scalars(one_page).all(), many=True)
        with app.test_request_context():  # the labels are translated
            assert LIST.dump_page(one_page) == expected
            # The same keys in the same order: the JSON reads as the detail's does.
            assert [list(item) for item in LIST.dump_page(one_page)] == [list(item) for item in expected]
        compared += len(expected)
    assert compared, "the filter leaves something to compare"


def test_every_nested_brief_missing_dumps_as_null(app, db, make_request):
    from fieldservice.requests.api import LIST

    sr = make_request(product_id=None, service_category="misc")
    query = sa.select(ServiceRequest).where(ServiceRequest.id == sr.id)
    (item,) = LIST.dump_page(query)
    assert item["product"] is None and item["equipment"] is None and item["engineer"] is None
    assert item == ServiceRequestSchema().dump(db.session.get(ServiceRequest, sr.id))


def test_kinds_without_a_plain_conversion_are_dumped_by_their_field(app, db, make_request):
    """A field kind the projection does not convert itself (Decimal here) is serialized by the field."""

    class WithDecimal(ma.Schema):
        id = ma.fields.Integer()
        priority = ma.fields.Decimal(as_string=True)
        urged = ma.fields.Boolean()
        number = ma.fields.String(data_key="no")

    sr = make_request()
    projection = ListProjection(WithDecimal(), ServiceRequest)
    (item,) = projection.dump_page(sa.select(ServiceRequest).where(ServiceRequest.id == sr.id))
    assert item == WithDecimal().dump(db.session.get(ServiceRequest, sr.id))
    assert item["priority"] == str(Decimal(sr.priority)) and "no" in item


def test_a_projection_refuses_what_it_cannot_read_as_columns(app):
    class Inner(ma.Schema):
        id = ma.fields.Integer()
        name = ma.fields.String()

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

    class NestedNotAColumn(ma.Schema):
        customer = ma.fields.Nested(Events)

    for schema in (Computed(), Events(), NotARelation(), NotAColumn(), NestedNotAColumn()):
        with pytest.raises(TypeError):
            ListProjection(schema, ServiceRequest)
