"""Demo data: three agreement types and agreements for about two thirds of the demo customers.

The mix shows every state on the console: in force, expiring within 30 days (one already renewed), expired,
and one not yet started. Maintenance requests are left to the periodic job (the requests domain seeds the problem
types after this one).
"""

from datetime import timedelta
from decimal import Decimal

from fieldservice.contracts import operations as ops
from fieldservice.core import clock

TYPES = [
    {
        "code": "gold",
        "name": "金牌服务协议",
        "response_hours": 4,
        "resolution_hours": 24,
        "terms": "7×24 小时响应；人工、上门、备件及其他费用全部包含；每季度一次预防性保养。",
        "service_items": ["repair", "maintenance", "installation"],
        "charging_method": "covered",
        "labour_rate": Decimal("180.00"),
        "visit_fee": Decimal("120.00"),
        "maintenance_cycle_months": 3,
    },
    {
        "code": "silver",
        "name": "银牌服务协议",
        "response_hours": 8,
        "resolution_hours": 48,
        "terms": "工作日 8 小时响应；人工及上门费包含，备件按价收费；每半年一次保养。",
        "service_items": ["repair", "maintenance"],
        "charging_method": "labour_only",
        "labour_rate": Decimal("150.00"),
        "visit_fee": Decimal("80.00"),
        "maintenance_cycle_months": 6,
    },
    {
        "code": "per-call",
        "name": "按次服务协议",
        "response_hours": 24,
        "resolution_hours": 72,
        "terms": "按次上门，每次收取固定上门服务费（含人工），备件另计。",
        "service_items": ["repair"],
        "charging_method": "per_visit",
        "labour_rate": Decimal("0.00"),
        "visit_fee": Decimal("260.00"),
        "maintenance_cycle_months": None,
    },
]

# (days the agreement started before today, its length in months, type code, covers only some units?)
PLANS = [
    (200, 12, "gold", False),
    (90, 12, "silver", True),
    (340, 12, "silver", False),  # ends within 30 days: on the renewal worklist
    (20, 24, "per-call", False),
    (400, 12, "silver", False),  # expired last month
    (350, 12, "gold", True),  # ends within 30 days, renewed below
    (-10, 12, "gold", False),  # starts in ten days
]


def seed(rng, context: dict) -> None:
    actor = context.get("users", {}).get("manager") or context.get("users", {}).get("admin")
    types = {data["code"]: ops.create_agreement_type(data, actor) for data in TYPES}
    equipment_by_customer: dict[int, list] = {}
    for unit in context.get("equipment", []):
        equipment_by_customer.setdefault(unit.customer_id, []).append(unit)
    today = clock.today()
    agreements = []
    customers = list(context.get("customers", []))
    for index, customer in enumerate(customers[: len(customers) * 2 // 3]):
        started, months, code, some_units = PLANS[index % len(PLANS)]
        starts_on = today - timedelta(days=started)
        units = equipment_by_customer.get(customer.id, [])
        chosen = rng.sample(units, max(1, len(units) // 2)) if some_units and units else []
        agreement = ops.create_agreement(
            {
                "customer_id": customer.id,
                "type_id": types[code].id,
                "name": f"{types[code].name}（{customer.name}）",
                "starts_on": starts_on,
                "ends_on": clock.add_months(starts_on, months) - timedelta(days=1),
                "equipment_ids": [u.id for u in chosen],
            },
            actor,
        )
        agreements.append(agreement)
        if index % len(PLANS) == 5:
            agreements.append(ops.renew_agreement(agreement, {"version": agreement.version}, actor))
    context["agreements"] = agreements
