"""Preventive maintenance plans: an agreement with a cycle owes one maintenance visit per unit per cycle.

The requests domain (requests/maintenance.py) creates the requests these plans owe.
"""

from datetime import date, timedelta

import sqlalchemy as sa

from fieldservice.contracts.models import Agreement
from fieldservice.core.clock import add_months
from fieldservice.customers.models import Equipment
from fieldservice.extensions import db


def cycle_starts(agreement: Agreement) -> list[date]:
    """The first day of each maintenance cycle within the agreement's period."""
    months = agreement.maintenance_cycle_months
    if not months:
        return []
    starts, n = [], 0
    while (day := add_months(agreement.starts_on, n * months)) <= agreement.ends_on:
        starts.append(day)
        n += 1
    return starts


def due_cycles(agreement: Agreement, on: date) -> list[date]:
    """Cycles owed on *on*: the one under way (if it was missed) and the next one once within its lead days."""
    starts = cycle_starts(agreement)
    owed = []
    for i, start in enumerate(starts):
        following = starts[i + 1] if i + 1 < len(starts) else agreement.ends_on + timedelta(days=1)
        if start - timedelta(days=agreement.maintenance_lead_days) <= on < following:
            owed.append(start)
    return owed


def equipment_for(agreement: Agreement) -> list[Equipment]:
    """The equipment an agreement covers: the units it lists, or all of the customer's when it lists none."""
    if agreement.equipment:
        return list(agreement.equipment)
    query = sa.select(Equipment).where(Equipment.customer_id == agreement.customer_id).order_by(Equipment.id)
    return list(db.session.scalars(query))
