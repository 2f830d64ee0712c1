"""Demo data: suppliers, parts for the demo product categories, a central and a regional warehouse, a van per
engineer with its first load, and part requests and faulty returns at every step.

Everything goes through the operations: each unit in the demo is on the ledger.
"""

from decimal import Decimal

import sqlalchemy as sa

from fieldservice.core.errors import ApiError
from fieldservice.extensions import db
from fieldservice.parts import catalog as catalog_ops
from fieldservice.parts import claims as claims_ops
from fieldservice.parts import part_requests as pr_ops
from fieldservice.parts import returns as returns_ops
from fieldservice.parts import stock as stock_ops
from fieldservice.parts.models import Part, StockLevel, Warehouse

SUPPLIERS = [
    # name, contact, phone
    ("珠海格力配件供应有限公司", "陈国栋", "0756-8669000"),
    ("苏州恒通滤材有限公司", "王丽", "0512-66880123"),
    ("上海三菱电梯配件服务中心", "刘志强", "021-62571188"),
    ("理光（中国）耗材配送中心", "张婷", "021-53966600"),
    ("深圳迈瑞医疗备件部", "黄海", "0755-81888998"),
]

PARTS = [
    # part number, name, category, price, serial-tracked, return required, supplier, warranty months, reorder
    ("AC-CAP-35", "压缩机启动电容 35μF", "air_conditioner", "35.00", False, False, 0, 6, 20),
    ("AC-FAN-120", "室外风机电机 120W", "air_conditioner", "420.00", False, True, 0, 12, 4),
    ("AC-EEV-20", "电子膨胀阀 EEV-20", "air_conditioner", "260.00", False, True, 0, 12, 5),
    ("AC-PCB-GMV", "多联机室外主控板", "air_conditioner", "1380.00", True, True, 0, 12, 2),
    ("WP-RO-400", "RO反渗透膜 400G", "water_purifier", "180.00", False, True, 1, 12, 10),
    ("WP-PP-10", "PP棉滤芯 10寸", "water_purifier", "18.00", False, False, 1, 3, 40),
    ("WP-PUMP-50", "增压泵 50G", "water_purifier", "230.00", True, True, 1, 18, 3),
    ("WP-SV-24", "进水电磁阀 24V", "water_purifier", "45.00", False, True, 1, 12, 8),
    ("EL-DRV-01", "门机变频器", "elevator", "2600.00", True, True, 2, 24, 1),
    ("EL-RLR-60", "层门滚轮 60mm", "elevator", "26.00", False, False, 2, 6, 30),
    ("EL-ENC-1024", "曳引机编码器", "elevator", "980.00", True, True, 2, 12, 2),
    ("PR-FUSER-55", "定影组件 MP-5055", "printer", "1150.00", True, True, 3, 6, 2),
    ("PR-DRUM-55", "感光鼓组件", "printer", "560.00", False, True, 3, 6, 4),
    ("PR-ROLL-01", "搓纸轮", "printer", "22.00", False, False, 3, 3, 25),
    ("MD-LAMP-12V", "生化仪卤素灯 12V 20W", "medical", "320.00", False, True, 4, 6, 6),
    ("MD-TUBE-01", "蠕动泵管", "medical", "65.00", False, False, 4, 3, 15),
    ("MD-TC-480", "温控模块 BS-480", "medical", "1850.00", True, True, 4, 12, 1),
]


def _serials(part, n: int, start: int) -> list[str]:
    return [f"{part.part_number}-{start + i:05d}" for i in range(n)] if part.serial_tracked else []


def _line(part, qty: int, serials: list[str]) -> dict:
    return {"part_id": part.id, "qty": qty, "serials": serials}


def seed(rng, context: dict) -> None:
    users = context.get("users", {})
    manager = users.get("manager") or users.get("admin")
    dispatcher = users.get("dispatcher") or manager
    suppliers = [catalog_ops.create_supplier({"name": n, "contact": c, "phone": p}, manager) for n, c, p in SUPPLIERS]
    products = list(context.get("products") or [])
    parts = []
    for number, name, category, price, serial, ret, supplier, months, reorder in PARTS:
        parts.append(
            catalog_ops.create_part(
                {
                    "part_number": number,
                    "name": name,
                    "category": category,
                    "unit_price": Decimal(price),
                    "serial_tracked": serial,
                    "return_required": ret,
                    "supplier_id": suppliers[supplier].id,
                    "supplier_warranty_months": months,
                    "reorder_threshold": reorder,
                    "product_ids": [p.id for p in products if p.category == category],
                },
                manager,
            )
        )
    central = stock_ops.create_warehouse(
        {
            "code": "SH-CENTRAL",
            "name": "上海中心仓",
            "kind": "central",
            "zone": "闵行区",
            "address": "上海市闵行区都市路 5001 号 3 号库",
        },
        manager,
    )
    regional = stock_ops.create_warehouse(
        {
            "code": "SH-PD",
            "name": "浦东区域仓",
            "kind": "regional",
            "zone": "浦东新区",
            "address": "上海市浦东新区金科路 2889 号 B1",
        },
        manager,
    )

    # Goods in: a fresh delivery per part (a few deliberately under their reorder threshold).
    serial_no = 1
    for part in parts:
        qty = rng.randint(part.reorder_threshold + 4, part.reorder_threshold * 3 + 8)
        if part.part_number in ("AC-EEV-20", "MD-LAMP-12V"):
            qty = part.reorder_threshold - 2  # the low-stock alert has something to show
        serials = _serials(part, qty, serial_no)
        serial_no += qty
        stock_ops.receive_stock(
            {
                "warehouse_id": central.id,
                "lines": [_line(part, qty, serials)],
                "note": f"采购入库 PO-2026{rng.randint(1000, 9999)}",
            },
            manager,
        )
    for part in parts[::3]:
        units = _units_at(part, central, 2)
        stock_ops.transfer_stock(
            {
                "from_warehouse_id": central.id,
                "to_warehouse_id": regional.id,
                "lines": [_line(part, 2, units)],
                "note": "区域仓补货",
            },
            manager,
        )

    # Each engineer's van, loaded with the everyday parts of their skills.
    engineers = list(context.get("engineers") or [])
    vans = {}
    for engineer in engineers:
        van = stock_ops.ensure_van(engineer)
        vans[engineer.id] = van
        lines = []
        for part in parts:
            if part.category in engineer.skill_categories and not part.serial_tracked:
                lines.append(_line(part, min(2, _on_hand(central, part)), []))
        lines = [ln for ln in lines if ln["qty"] > 0]
        if lines:
            stock_ops.transfer_stock(
                {
                    "from_warehouse_id": central.id,
                    "to_warehouse_id": van.id,
                    "lines": lines,
                    "note": "车载库初始装车",
                },
                manager,
            )
    stock_ops.adjust_stock(
        {
            "warehouse_id": central.id,
            "lines": [_line(parts[5], -3, [])],
            "note": "月度盘点：PP棉滤芯受潮报损 3 支",
        },
        manager,
    )

    part_requests = _seed_part_requests(rng, engineers, parts, central, manager, dispatcher)
    returns = _seed_returns(engineers, vans, parts, central, manager)
    context["parts"] = parts
    context["warehouses"] = {"central": central, "regional": regional, "vans": vans}
    context["part_requests"] = part_requests
    context["return_orders"] = returns
    context["van_parts"] = van_parts


def _on_hand(warehouse, part) -> int:
    level = db.session.scalar(stock_ops.stock_levels(warehouse.id, part.id))
    return level.qty if level else 0


def _units_at(part, warehouse, n: int) -> list[str]:
    if not part.serial_tracked:
        return []
    return [u.serial for u in db.session.scalars(stock_ops.serial_units(part.id, warehouse.id).limit(n))]


# How far each demo part request gets: applied, approved, shipped, signed, rejected, withdrawn.
PART_REQUEST_PLAN = [
    ([], "明天保养要用，车上存量不足"),
    (["approve"], "客户设备待换件"),
    (["approve", "ship"], "加急：医院设备停机"),
    (["approve", "ship", "sign"], "补充车载库存"),
    (["approve", "ship", "sign"], "大修备料"),
    (["reject"], "季度保养备料"),
    (["cancel"], "客户改约下周"),
]


def _seed_part_requests(rng, engineers, parts, central, manager, dispatcher) -> list:
    made = []
    for n, (steps, note) in enumerate(PART_REQUEST_PLAN):
        if not engineers:
            break
        engineer = engineers[n % len(engineers)]
        choices = [p for p in parts if p.category in engineer.skill_categories] or parts
        picked = rng.sample(choices, k=min(2, len(choices)))
        applicant = engineer.user if n % 2 == 0 else dispatcher
        try:
            with db.session.begin_nested():
                pr = _apply_and_step(engineer, applicant, picked, steps, note, central, manager)
        except ApiError:
            continue  # a demo engineer without stock for this pick: the other requests still show every step
        made.append(pr)
    return made


def _apply_and_step(engineer, applicant, picked, steps, note, central, manager):
    pr = pr_ops.apply_part_request(
        {
            "engineer_id": None if applicant is engineer.user else engineer.id,
            "lines": [{"part_id": p.id, "qty": 1} for p in picked],
            "note": note,
        },
        applicant,
    )
    for step in steps:
        payload = {}
        if step == "reject":
            payload = {"reason": "车载库存充足，请先使用现有备件"}
        elif step == "cancel":
            payload = {"reason": note}
        elif step == "ship":
            payload = {
                "source_warehouse_id": central.id,
                "serials": [
                    {"part_id": p.id, "serial": _units_at(p, central, 1)[0]} for p in picked if p.serial_tracked
                ],
            }
        actor = {"sign": engineer.user, "cancel": applicant}.get(step, manager)
        pr_ops.perform_part_request(pr, step, actor, pr.version, **payload)
    return pr


def _seed_returns(engineers, vans, parts, central, manager) -> list:
    """Faulty units found in stock or vans, at each step of the return and of the supplier claim."""
    plan = [
        [],
        ["ship"],
        ["ship", "receive"],
        ["ship", "receive", "inspect"],
        ["ship", "receive", "inspect", "accept"],
        ["ship", "receive", "inspect", "reject"],
    ]
    returnable = [p for p in parts if p.return_required and not p.serial_tracked]
    made = []
    for n, steps in enumerate(plan):
        # Every other return comes from an engineer's van; a part is picked among those actually there.
        sources = [vans[e.id] for e in engineers] if n % 2 == 0 else []
        candidates = [(w, p) for w in [*sources, central] for p in returnable if _on_hand(w, p) > 0]
        if not candidates:
            break
        source, part = candidates[(n * 7) % len(candidates)]
        actor = _van_owner(engineers, source) or manager
        try:
            with db.session.begin_nested():
                order = _open_and_step(part, source, central, manager, actor, steps, n)
        except ApiError:
            continue
        made.append(order)
    return made


def _open_and_step(part, source, central, manager, actor, steps, n):
    order = returns_ops.open_return(
        {
            "part_id": part.id,
            "qty": 1,
            "warehouse_id": source.id,
            "fault_description": "开箱不良：通电无反应",
        },
        actor,
    )
    for step in steps:
        if step in ("accept", "reject"):
            claim = order.claim
            claims_ops.perform_claim(
                claim,
                step,
                manager,
                claim.version,
                amount=claim.claimed_amount if step == "accept" else None,
                reason="供应商检测为安装不当，不予索赔" if step == "reject" else None,
            )
            continue
        payload = {
            "ship": {"tracking_number": f"SF{1432009000 + n}"},
            "receive": {"warehouse_id": central.id},
            "inspect": {"refurbished_qty": 0, "scrapped_qty": 1, "note": "线圈烧毁，报废"},
        }[step]
        returns_ops.perform_return(order, step, actor if step == "ship" else manager, order.version, **payload)
    return order


def _van_owner(engineers, warehouse):
    return next((e.user for e in engineers if warehouse.engineer_id == e.id), None)


def van_parts(rng, engineer, category: str) -> list[dict]:
    """One or two parts lines from what the engineer's van holds for this kind of work, for the requests demo's
    visits; the parts domain takes them out of the van when the visit is recorded (its visit_recorded subscriber).
    Nothing when the van is empty."""
    in_van = db.session.scalars(
        sa.select(Part.id)
        .join(StockLevel, StockLevel.part_id == Part.id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(
            Warehouse.kind == "van",
            Warehouse.engineer_id == engineer.id,
            StockLevel.qty > 0,
            Part.category == category,
            Part.active,
            ~Part.serial_tracked,
        )
        .order_by(Part.id)
    ).all()
    chosen = rng.sample(in_van, min(len(in_van), rng.choice([1, 1, 2])))
    return [{"part_id": part_id, "qty": 1} for part_id in chosen]
