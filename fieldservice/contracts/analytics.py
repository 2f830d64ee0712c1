"""Read-only counts for the analytics domain: requests per agreement and per service item."""

from datetime import datetime

import sqlalchemy as sa

from fieldservice.contracts.models import Agreement
from fieldservice.customers.models import Customer
from fieldservice.extensions import db


def _window(query, column, since: datetime | None, until: datetime | None):
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def requests_per_agreement(since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Requests logged under each agreement in [since, until), most first: {agreement_id, number, name, customer,
    count, open}."""
    from fieldservice.requests.models import ServiceRequest
    from fieldservice.requests.states import OPEN

    count = sa.func.count(ServiceRequest.id)
    open_count = sa.func.count(ServiceRequest.id).filter(ServiceRequest.status.in_(tuple(OPEN)))
    query = (
        sa.select(Agreement.id, Agreement.number, Agreement.name, Customer.name, count, open_count)
        .join(ServiceRequest, ServiceRequest.agreement_id == Agreement.id)
        .join(Customer, Customer.id == Agreement.customer_id)
        .group_by(Agreement.id, Agreement.number, Agreement.name, Customer.name)
        .order_by(count.desc(), Agreement.number)
    )
    query = _window(query, ServiceRequest.created_at, since, until)
    return [
        {
            "agreement_id": a_id,
            "number": number,
            "name": name,
            "customer": customer,
            "count": n,
            "open": n_open,
        }
        for a_id, number, name, customer, n, n_open in db.session.execute(query)
    ]


def requests_per_service_item(since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Requests per service item (their problem type's kind of work) in [since, until): {item, count, covered}
    where covered counts those under an agreement."""
    from fieldservice.requests.models import ProblemType, ServiceRequest

    item = sa.func.coalesce(ProblemType.category, "other")
    count = sa.func.count(ServiceRequest.id)
    covered = sa.func.count(ServiceRequest.id).filter(ServiceRequest.coverage == "agreement")
    query = (
        sa.select(item, count, covered)
        .select_from(ServiceRequest)
        .outerjoin(ProblemType, ProblemType.code == ServiceRequest.problem_type)
        .group_by(item)
        .order_by(count.desc(), item)
    )
    query = _window(query, ServiceRequest.created_at, since, until)
    return [
        {"item": name, "count": n, "covered": n_covered} for name, n, n_covered in db.session.execute(query)
    ]
