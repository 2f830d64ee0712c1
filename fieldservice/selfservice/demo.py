"""Demo data: QR labels on the first customers' units, and one fault a customer reported by scanning a label
(so the dispatch board shows a self-service request)."""

import logging
import random
from datetime import timedelta

from fieldservice.core.models import utcnow
from fieldservice.requests import operations as requests
from fieldservice.requests.demo import DESCRIPTIONS
from fieldservice.selfservice import operations as ops

log = logging.getLogger("fieldservice.selfservice")

LABELLED_CUSTOMERS = 8  # the rest stay without a label: the console's "print labels for every unit without one"


def seed(rng: random.Random, context: dict) -> None:
    customers = list(context.get("customers") or [])[:LABELLED_CUSTOMERS]
    units = [u for u in context.get("equipment") or [] if u.customer_id in {c.id for c in customers}]
    if not units:
        log.info("selfservice demo: no equipment in the context; no labels")
        return
    ops.label_tokens([u.id for u in units])
    # The fault fits the unit: a problem and its wording from the requests demo's list for the product's kind.
    quiet = [u for u in units if ops.open_request(u) is None and DESCRIPTIONS.get(u.product.category)]
    if not quiet:
        return
    unit = rng.choice(quiet)
    problem_type, descriptions = rng.choice(sorted(DESCRIPTIONS[unit.product.category].items()))
    now = utcnow()
    coverage = requests.coverage_at(unit.customer_id, unit.id, now)
    response_due, _ = requests.due_times(ops.SELF_SERVICE_PRIORITY, now, coverage)
    requests.create_request(
        {
            "customer_id": unit.customer_id,
            "equipment_id": unit.id,
            "problem_type": problem_type,
            "description": rng.choice(descriptions),
            "priority": ops.SELF_SERVICE_PRIORITY,
            "required_by": max(response_due, now + timedelta(hours=4)),
            "channel": "qr",
            "contact_name": unit.customer.name,
            "contact_phone": unit.customer.phone,
        },
        None,
        now=now,
    )
    log.info("selfservice demo: %s units labelled, one self-service request", len(units))
