"""Console pages render for the right roles (in Chinese and English) and their forms work through the
operations."""

import re

import pytest
import sqlalchemy as sa

from fieldservice.parts.models import Part, PartRequest, ReturnOrder, StockMovement, Supplier
from fieldservice.parts.returns import open_return
from tests.test_parts.conftest import qty_at


def _version_field(html: str, prefix: str) -> str:
    return re.search(rf'name="{prefix}-version"[^>]*value="(\d+)"', html).group(1)


@pytest.mark.parametrize(
    "path",
    [
        "/parts/stock",
        "/parts/movements",
        "/parts/catalog",
        "/parts/requests",
        "/parts/returns",
        "/parts/claims",
        "/parts/stock/receipt",
        "/parts/stock/transfer",
        "/parts/stock/adjust",
        "/parts/catalog/new",
        "/parts/requests/new",
        "/parts/returns/new",
    ],
)
def test_manager_pages_render_in_both_languages(console_as, central, part, receive, path):
    receive(central, part, 1)
    console = console_as("manager")
    zh = console.get(path)
    assert zh.status_code == 200, path
    en = console.get(path + "?lang=en")
    assert en.status_code == 200
    assert zh.data != en.data


@pytest.mark.parametrize(
    "role,path,status",
    [
        ("engineer", "/parts/stock", 403),
        ("engineer", "/parts/claims", 403),
        ("engineer", "/parts/catalog/new", 403),
        ("dispatcher", "/parts/stock/receipt", 403),
        ("dispatcher", "/parts/claims", 403),
        ("callback", "/parts/requests", 403),
        ("callback", "/parts/catalog", 403),
        ("dispatcher", "/parts/stock", 200),
        ("engineer", "/parts/requests", 200),
        ("engineer", "/parts/returns", 200),
    ],
)
def test_page_role_boundaries(console_as, role, path, status):
    assert console_as(role).get(path).status_code == status


def test_stock_page_shows_levels_and_low_alerts(console_as, central, make_part, receive):
    low = make_part(name="前置PP棉滤芯", reorder_threshold=10)
    receive(central, low, 3)
    html = console_as("dispatcher").get("/parts/stock?lang=en").get_data(as_text=True)
    assert 'data-testid="low-stock"' in html and "前置PP棉滤芯" in html and "Low stock" in html
    html = console_as("dispatcher").get("/parts/stock").get_data(as_text=True)
    assert "库存" in html


def test_receipt_form_moves_stock_and_errors_rerender(db, console_as, central, part):
    console = console_as("manager")
    response = console.post(
        "/parts/stock/receipt",
        data={"warehouse_id": central.id, "part_id": part.id, "qty": 6, "note": "到货"},
    )
    assert response.status_code == 302
    assert qty_at(central.id, part.id) == 6
    response = console.post(
        "/parts/stock/transfer?lang=en",
        data={"from_warehouse_id": central.id, "warehouse_id": central.id, "part_id": part.id, "qty": 1},
    )
    assert response.status_code == 422
    assert "different warehouse" in response.get_data(as_text=True)
    response = console.post(
        "/parts/stock/adjust?lang=en",
        data={"warehouse_id": central.id, "part_id": part.id, "qty": -9, "note": "盘点"},
    )
    assert response.status_code == 409 and "Not enough" in response.get_data(as_text=True)
    assert qty_at(central.id, part.id) == 6
    response = console.post(
        "/parts/stock/adjust",
        data={"warehouse_id": central.id, "part_id": part.id, "qty": -1, "note": "盘点少一支"},
    )
    assert response.status_code == 302 and qty_at(central.id, part.id) == 5


def test_part_form_creates_and_edits(db, console_as, supplier, make_product):
    product = make_product()
    console = console_as("manager")
    response = console.post(
        "/parts/catalog/new",
        data={
            "part_number": "AC-CAP-35",
            "name": "压缩机启动电容",
            "category": "air_conditioner",
            "unit_price": "35.00",
            "supplier_id": supplier.id,
            "supplier_warranty_months": 6,
            "reorder_threshold": 10,
            "product_ids": [product.id],
            "active": "y",
            "return_required": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    part = db.session.scalar(sa.select(Part).where(Part.part_number == "AC-CAP-35"))
    assert part.product_ids == [product.id] and part.supplier_id == supplier.id
    page = console.get(f"/parts/catalog/{part.id}/edit").get_data(as_text=True)
    assert 'value="AC-CAP-35"' in page
    response = console.post(
        f"/parts/catalog/{part.id}/edit",
        data={
            "part_number": "AC-CAP-35",
            "name": "压缩机启动电容 35μF",
            "category": "air_conditioner",
            "unit_price": "38.00",
            "supplier_warranty_months": 6,
            "reorder_threshold": 10,
            "version": part.version,
        },
    )
    assert response.status_code == 302
    stale = console.post(
        f"/parts/catalog/{part.id}/edit",
        data={
            "part_number": "AC-CAP-35",
            "name": "旧名",
            "category": "air_conditioner",
            "unit_price": "1.00",
            "supplier_warranty_months": 6,
            "reorder_threshold": 10,
            "version": 1,
        },
    )
    assert stale.status_code == 409
    db.session.expire_all()
    assert part.name == "压缩机启动电容 35μF"
    duplicate = console.post(
        "/parts/catalog/new",
        data={
            "part_number": "AC-CAP-35",
            "name": "x",
            "category": "printer",
            "unit_price": "1",
            "supplier_warranty_months": 0,
            "reorder_threshold": 0,
        },
    )
    assert duplicate.status_code == 422


def test_supplier_form(db, console_as):
    console = console_as("manager")
    assert console.post("/parts/suppliers", data={"name": "广州冷机配件厂"}).status_code == 302
    assert db.session.scalar(sa.select(Supplier.name)) == "广州冷机配件厂"


def test_part_request_queue_flow_in_the_console(db, console_as, engineer, central, part, receive, van):
    receive(central, part, 4)
    eng = console_as(user=engineer.user)
    response = eng.post("/parts/requests/new", data={"lines-0-part_id": part.id, "lines-0-qty": 2, "note": "换膜"})
    assert response.status_code == 302, response.get_data(as_text=True)
    pr = db.session.scalar(sa.select(PartRequest))
    manager = console_as("manager")
    queue = manager.get("/parts/requests?status=applied").get_data(as_text=True)
    assert pr.number in queue and f'action="/parts/requests/{pr.id}/approve"' in queue

    # A reject without a reason re-renders the request with the message and changes nothing.
    html = manager.get(f"/parts/requests/{pr.id}").get_data(as_text=True)
    response = manager.post(
        f"/parts/requests/{pr.id}/reject?lang=en",
        data={f"reject{pr.id}-version": _version_field(html, f"reject{pr.id}")},
    )
    assert response.status_code == 422 and "Say why" in response.get_data(as_text=True)
    db.session.expire_all()
    assert pr.status == "applied"

    response = manager.post(
        f"/parts/requests/{pr.id}/approve",
        data={f"approve{pr.id}-version": pr.version, "next": "/parts/requests"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/parts/requests")
    db.session.expire_all()
    stale = manager.post(f"/parts/requests/{pr.id}/ship", data={f"ship{pr.id}-version": 1})
    assert stale.status_code == 409
    response = manager.post(
        f"/parts/requests/{pr.id}/ship",
        data={f"ship{pr.id}-version": pr.version, f"ship{pr.id}-source_warehouse_id": central.id},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert eng.post(f"/parts/requests/{pr.id}/sign", data={f"sign{pr.id}-version": pr.version}).status_code == 302
    db.session.expire_all()
    assert pr.status == "signed" and qty_at(van.id, part.id) == 2
    timeline = eng.get(f"/parts/requests/{pr.id}?lang=en").get_data(as_text=True)
    assert timeline.count("<tr><td>") >= 4
    van_page = eng.get("/parts/van?lang=en").get_data(as_text=True)
    assert part.part_number in van_page
    # The ledger names the part request by its number, never by a database id.
    assert f"Part request {pr.number}</a>" in van_page


def test_returns_and_claims_in_the_console(db, console_as, manager, central, part, receive):
    receive(central, part, 2)
    order = open_return(
        {"part_id": part.id, "qty": 1, "warehouse_id": central.id, "fault_description": "到货即损坏"}, manager
    )
    db.session.commit()
    console = console_as(user=manager)
    for action, extra in (
        ("ship", {"tracking_number": "SF99"}),
        ("receive", {}),
        ("inspect", {"scrapped_qty": 1, "refurbished_qty": 0}),
    ):
        db.session.expire_all()
        data = {f"{action}{order.id}-{k}": v for k, v in {"version": order.version, **extra}.items()}
        response = console.post(f"/parts/returns/{order.id}/{action}", data=data)
        assert response.status_code == 302, (action, response.get_data(as_text=True))
    db.session.expire_all()
    assert order.status == "inspected" and order.claim is not None
    claim = order.claim
    html = console.get("/parts/claims").get_data(as_text=True)
    assert claim.number in html
    response = console.post(
        f"/parts/claims/{claim.id}/accept?lang=en",
        data={f"accept{claim.id}-version": claim.version, f"accept{claim.id}-amount": "9999"},
    )
    assert response.status_code == 422 and "accepted amount" in response.get_data(as_text=True)
    response = console.post(
        f"/parts/claims/{claim.id}/accept",
        data={f"accept{claim.id}-version": claim.version, f"accept{claim.id}-amount": "150"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert claim.status == "accepted"
    assert db.session.query(StockMovement).filter_by(reason="scrap").count() == 1
    assert console.get(f"/parts/returns/{order.id}").status_code == 200


def test_engineer_opens_a_return_from_the_van(db, console_as, engineer, part, stock_van, van):
    stock_van(part, 2)
    eng = console_as(user=engineer.user)
    response = eng.post("/parts/returns/new", data={"part_id": part.id, "qty": 1, "fault_description": "漏水"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert qty_at(van.id, part.id) == 1
    assert db.session.scalar(sa.select(ReturnOrder)).engineer_id == engineer.id


def test_the_ledger_page_loads_its_rows_references_per_page_not_per_row(
    db, console_as, central, regional, make_part, receive, make_equipment, make_user
):
    """Each row names its part, both places and what it was for; 30 rows cost the same queries as 3."""
    from datetime import timedelta

    from fieldservice.core.models import utcnow
    from fieldservice.parts.stock import Move, move_stock
    from fieldservice.requests import operations as requests_ops
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    unit, dispatcher = make_equipment(), make_user("dispatcher")

    def make_request():
        sr = requests_ops.create_request(
            {
                "customer_id": unit.customer_id,
                "equipment_id": unit.id,
                "problem_type": "leak",
                "description": "漏水",
                "priority": 2,
                "required_by": utcnow() + timedelta(days=1),
            },
            dispatcher,
        )
        db.session.commit()
        return sr

    def queries_for(rows: int) -> int:
        for n in range(rows):
            part = make_part(part_number=f"LG-{rows}-{n}")
            receive(central, part, 2)
            # A movement made for a service request: its row shows the request's number.
            sr = make_request()
            move_stock([Move(part.id, 1, central.id, regional.id)], reason="transfer", actor=None, request_id=sr.id)
            db.session.commit()
        statements = []
        console = console_as("manager")
        console.get("/parts/movements")  # the log-in's own queries stay out of the count

        def listener(*args):
            statements.append(args[2])

        db.session.expire_all()  # nothing served fresh from this test's session: the page loads what it shows
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = console.get("/parts/movements")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert page.status_code == 200 and sr.number in page.get_data(as_text=True)
        return len(statements)

    few = queries_for(3)
    many = queries_for(27)
    assert many == few, (few, many)
