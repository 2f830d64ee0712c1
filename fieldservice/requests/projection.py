"""The request list (GET /api/v1/requests) read as plain rows instead of ORM entities, dumped as
ServiceRequestSchema dumps them.

Measured by bench/requests_list.py: loading a page of 50 requests with their customer, product, equipment and
engineer builds some 250 ORM objects, and marshmallow's dump makes a few thousand calls for them; both cost
several times the query itself. This reads the page's ids first (the caller's select: its filters, order, LIMIT
and OFFSET), then those rows by id with each nested many-to-one relation joined (outer join, aliased), selecting
the columns the schema dumps: one statement built once. Paging before joining keeps the plan the same whatever
the filters: with the joins in the page's query, PostgreSQL would join every matching row before sorting when no
index gives the order.

What it can read: fields that are columns of the model, Nested fields (not many) over a many-to-one relation
whose schema has only such column fields, and Function fields, which are given the row (its columns by
attribute name, as on the object). Anything else raises TypeError when the projection is built.
tests/test_requests/test_projection.py holds it to the schema's own dump.
"""

import datetime as dt
from collections.abc import Callable

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection

from fieldservice.extensions import db

# The field kinds read straight from a column.
_COLUMN_KINDS = (
    ma.fields.Integer,
    ma.fields.Float,
    ma.fields.String,
    ma.fields.Boolean,
    ma.fields.DateTime,
    ma.fields.Date,
    ma.fields.Decimal,
    ma.fields.UUID,
    ma.fields.Raw,
)


def _converter(field: ma.fields.Field, attr: str) -> Callable:
    """A column value (not None) -> what *field* dumps of it: the plain conversion for the common kinds,
    else the field's own serialize."""
    kind = type(field)
    if kind is ma.fields.Integer and not field.as_string:
        return int
    if kind is ma.fields.Float and not field.as_string:
        return float
    if kind is ma.fields.String:
        return str
    if kind is ma.fields.Boolean:  # marshmallow dumps a boolean as it is
        return lambda value: value
    if (
        kind in (ma.fields.DateTime, ma.fields.AwareDateTime)
        and (field.format or field.DEFAULT_FORMAT) == "iso"
        and field.SERIALIZATION_FUNCS.get("iso") is dt.datetime.isoformat
    ):
        return dt.datetime.isoformat
    return lambda value: field.serialize(attr, {attr: value})


def _column_reader(index: int, convert: Callable) -> Callable:
    def read(row):
        value = row[index]
        return None if value is None else convert(value)

    return read


def _nested_reader(present: int, fields: list[tuple[str, Callable]]) -> Callable:
    def read(row):
        if row[present] is None:
            return None
        return {key: value(row) for key, value in fields}

    return read


class ListProjection:
    """*schema*'s dump of *model*, one flat row per object (see the module's docstring)."""

    def __init__(self, schema: ma.Schema, model):
        mapper = sa.inspect(model)
        self.schema = schema
        self.table = mapper.local_table
        # (label, function of the page subquery giving the column), in the order the row holds them.
        self.columns: list[tuple[str, Callable]] = []
        # (alias, [(alias column, the model's column it joins on)]) for each nested relation.
        self.joins: list[tuple] = []
        # (key, function of the row giving the value), in the schema's order.
        self.fields: list[tuple[str, Callable]] = []
        name_of = type(schema).__name__

        def column_of(target_mapper, attr: str, where: str):
            prop = target_mapper.attrs.get(attr)
            if prop is None or not hasattr(prop, "columns") or len(prop.columns) != 1:
                raise TypeError(f"{name_of}: {where} is not a column of {target_mapper.class_.__name__}")
            return prop.columns[0]

        def read(label: str, column_from) -> int:
            self.columns.append((label, column_from))
            return len(self.columns) - 1

        for name, field in schema.dump_fields.items():
            kind, key, attr = type(field), field.data_key or name, field.attribute or name
            if kind is ma.fields.Function:
                self.fields.append((key, field.serialize_func))
            elif kind is ma.fields.Nested and not field.many:
                relation = mapper.relationships.get(attr)
                if relation is None or relation.direction is not RelationshipDirection.MANYTOONE:
                    raise TypeError(f"{name_of}.{name}: not a many-to-one relation of {model.__name__}")
                alias = relation.mapper.local_table.alias(f"{attr}_")
                self.joins.append(
                    (alias, [(alias.c[remote.key], local) for local, remote in relation.local_remote_pairs])
                )
                (pk,) = relation.mapper.primary_key
                present = read(f"{attr}__pk", lambda page, alias=alias, pk=pk: alias.c[pk.key])
                inner = []
                for sub_name, sub_field in field.schema.dump_fields.items():
                    if not isinstance(sub_field, _COLUMN_KINDS):
                        raise TypeError(f"{name_of}.{name}.{sub_name}: only column fields nest in a projection")
                    sub_attr = sub_field.attribute or sub_name
                    column = column_of(relation.mapper, sub_attr, f"{name}.{sub_name}")
                    index = read(f"{attr}__{sub_attr}", lambda page, alias=alias, key=column.key: alias.c[key])
                    inner.append(
                        (sub_field.data_key or sub_name, _column_reader(index, _converter(sub_field, sub_attr)))
                    )
                self.fields.append((key, _nested_reader(present, inner)))
            elif isinstance(field, _COLUMN_KINDS):
                # Labelled with the attribute's name: a Function field reads the row as it would the object.
                column = column_of(mapper, attr, name)
                index = read(attr, lambda page, key=column.key: page.c[key])
                self.fields.append((key, _column_reader(index, _converter(field, attr))))
            else:
                raise TypeError(f"{name_of}.{name}: a {kind.__name__} field cannot be projected")

        # Built once: the page's rows by their ids, with their nested relations (outer joins). A statement built
        # for each page around the caller's query cost 2.6 ms of Python a page (a subquery's proxy columns, labels
        # and aliases for some forty columns), more than reading the ids first and these rows by id.
        (self.pk,) = mapper.primary_key
        source = self.table
        for alias, pairs in self.joins:
            source = source.outerjoin(alias, sa.and_(*(remote == self.table.c[local.key] for remote, local in pairs)))
        # The id last: the readers find the columns by their place from the first.
        labelled = [column_from(self.table).label(label) for label, column_from in self.columns]
        self.by_ids = (
            sa.select(*labelled, self.pk.label("_pk"))
            .select_from(source)
            .where(self.pk.in_(sa.bindparam("ids", expanding=True)))
        )

    def dump(self, row) -> dict:
        return {key: value(row) for key, value in self.fields}

    def dump_page(self, query) -> list[dict]:
        """What the schema dumps of each object *query* (a select of the model, filtered, sorted and paged) selects,
        in its order: the page's ids by *query*, then their rows by id."""
        return self.dump_ids(db.session.scalars(query.with_only_columns(self.pk, maintain_column_froms=True)).all())

    def dump_ids(self, ids: list[int]) -> list[dict]:
        """What the schema dumps of the objects of *ids*, in that order (an id with no row is left out)."""
        if not ids:
            return []
        rows = {row._pk: row for row in db.session.execute(self.by_ids, {"ids": ids})}
        return [self.dump(rows[id_]) for id_ in ids if id_ in rows]
