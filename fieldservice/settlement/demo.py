"""Demo data: standard repair items per product category, the items done on the demo's resolved visits, and their
verification at every step (most approved, one returned for correction, the rest waiting); this month's drafts.

Everything goes through the operations.
"""

import sqlalchemy as sa

from fieldservice.core.clock import local_date
from fieldservice.core.models import utcnow
from fieldservice.customers.models import Product
from fieldservice.extensions import db
from fieldservice.parts.models import Supplier
from fieldservice.settlement import claims as claim_ops
from fieldservice.settlement import operations as ops
from fieldservice.settlement.models import Verification

REPAIR_ITEMS = [
    # category, code, 中文, English, standard hours, pricing, fixed price, reimbursable
    (
        "air_conditioner",
        "AC-01",
        "上门检测与故障诊断",
        "On-site inspection and diagnosis",
        "0.50",
        "fixed",
        "80.00",
        False,
    ),
    (
        "air_conditioner",
        "AC-02",
        "更换压缩机启动电容",
        "Replace the compressor start capacitor",
        "0.50",
        "hourly",
        None,
        True,
    ),
    ("air_conditioner", "AC-03", "更换室外风机电机", "Replace the outdoor fan motor", "1.50", "hourly", None, True),
    (
        "air_conditioner",
        "AC-04",
        "更换电子膨胀阀",
        "Replace the electronic expansion valve",
        "2.00",
        "hourly",
        None,
        True,
    ),
    ("air_conditioner", "AC-05", "冷媒检漏与补充", "Leak test and refrigerant top-up", "1.50", "hourly", None, False),
    (
        "air_conditioner",
        "AC-06",
        "清洗室内机与滤网",
        "Clean the indoor unit and filters",
        "1.00",
        "fixed",
        "150.00",
        False,
    ),
    (
        "water_purifier",
        "WP-01",
        "上门检测与故障诊断",
        "On-site inspection and diagnosis",
        "0.50",
        "fixed",
        "60.00",
        False,
    ),
    ("water_purifier", "WP-02", "更换PP棉滤芯", "Replace the PP cotton filter", "0.25", "hourly", None, False),
    ("water_purifier", "WP-03", "更换RO反渗透膜", "Replace the RO membrane", "0.75", "hourly", None, True),
    ("water_purifier", "WP-04", "更换增压泵", "Replace the booster pump", "1.00", "hourly", None, True),
    ("water_purifier", "WP-05", "更换进水电磁阀", "Replace the inlet solenoid valve", "0.50", "hourly", None, True),
    ("water_purifier", "WP-06", "管路消毒冲洗", "Disinfect and flush the pipes", "0.75", "fixed", "120.00", False),
    ("elevator", "EL-01", "故障诊断与试运行", "Diagnosis and test run", "1.00", "hourly", None, False),
    ("elevator", "EL-02", "更换层门滚轮", "Replace the landing door rollers", "1.50", "hourly", None, True),
    ("elevator", "EL-03", "更换门机变频器", "Replace the door operator drive", "3.00", "hourly", None, True),
    ("elevator", "EL-04", "门机调整与润滑", "Adjust and lubricate the door operator", "1.00", "hourly", None, False),
    ("printer", "PR-01", "故障诊断", "Diagnosis", "0.50", "fixed", "50.00", False),
    ("printer", "PR-02", "更换定影组件", "Replace the fuser unit", "1.00", "hourly", None, True),
    ("printer", "PR-03", "更换搓纸轮", "Replace the pickup roller", "0.50", "hourly", None, True),
    ("printer", "PR-04", "清洁保养", "Clean and service", "0.75", "fixed", "90.00", False),
    ("medical", "MD-01", "安全检测与校准", "Safety test and calibration", "2.00", "hourly", None, False),
    ("medical", "MD-02", "更换电源模块", "Replace the power module", "1.50", "hourly", None, True),
    ("medical", "MD-03", "更换传感器", "Replace the sensor", "1.00", "hourly", None, True),
]


def seed(rng, context: dict) -> None:
    users = context.get("users", {})
    manager = users.get("manager") or users.get("admin")
    items: dict[str, list] = {}
    for category, code, zh, en, hours, pricing, price, reimbursable in REPAIR_ITEMS:
        item = ops.create_repair_item(
            {
                "category": category,
                "code": code,
                "name_zh": zh,
                "name_en": en,
                "standard_hours": hours,
                "pricing": pricing,
                "fixed_price": price,
                "reimbursable": reimbursable,
            },
            manager,
        )
        items.setdefault(category, []).append(item)
    pending = db.session.scalars(sa.select(Verification).order_by(Verification.id)).all()
    for n, verification in enumerate(pending):
        visit = verification.visit
        product = visit.request.product
        choices = items.get(product.category if product is not None else "", [])
        if choices:
            # The diagnosis item and one or two repairs: what an engineer records on a typical visit.
            picked = [choices[0], *rng.sample(choices[1:], k=min(len(choices) - 1, rng.choice((1, 2))))]
            lines = [{"repair_item_id": item.id, "quantity": 1} for item in picked]
            ops.set_visit_items(visit, lines, None, event=False)
        if n % 5 == 4:
            continue  # left waiting in the queue
        if n == 1:
            ops.perform_verification(verification, "return", manager, None, "请补充所更换备件的维修项目")
        else:
            ops.perform_verification(verification, "approve", manager, None)
    if manager is not None:
        ops.build_statements(local_date(utcnow()).strftime("%Y-%m"), manager)
        _seed_claims(manager, context)
    context["repair_items"] = items


# Who makes each category's products: the supplier whose name starts so (parts' demo suppliers).
MANUFACTURERS = {
    "air_conditioner": "珠海格力",
    "water_purifier": "苏州恒通",
    "elevator": "上海三菱",
    "printer": "理光",
    "medical": "深圳迈瑞",
}


def _seed_claims(manager, context: dict) -> None:
    """Name each product's manufacturer, collect this month's verified warranty visits into claims, submit the
    first and record the manufacturer's partial acceptance of it (one line cut, with its reason)."""
    suppliers = db.session.scalars(sa.select(Supplier).order_by(Supplier.id)).all()
    for product in db.session.scalars(sa.select(Product).order_by(Product.id)):
        prefix = MANUFACTURERS.get(product.category)
        maker = next((s for s in suppliers if prefix and s.name.startswith(prefix)), None)
        if maker is not None:
            claim_ops.set_manufacturer(product.id, maker.id, manager)
    made = claim_ops.collect_claims(local_date(utcnow()).strftime("%Y-%m"), manager)
    if made:
        claim = made[0]
        claim_ops.perform_claim(claim, "submit", manager, None)
        line = max(claim.lines, key=lambda ln: ln.amount)
        half = ops.money(line.amount / 2)
        if half < line.amount:
            cut = [{"line_id": line.id, "accepted_amount": str(half), "reason": "按厂家标准核减一半"}]
            claim_ops.perform_claim(claim, "accept_part", manager, None, lines=cut)
        else:
            claim_ops.perform_claim(claim, "accept", manager, None)
    context["warranty_claims"] = made
