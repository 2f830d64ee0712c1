"""Stock and the ledger: receipts, transfers, stocktake adjustments, low-stock alerts, role boundaries,
422/409 with nothing changed, and the invariant that the ledger always sums to the stock levels
(property test)."""

from collections import defaultdict

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fieldservice.core.errors import ApiError
from fieldservice.parts import states
from fieldservice.parts.models import SerialUnit, StockLevel, StockMovement, Warehouse
from fieldservice.parts.returns import open_return
from fieldservice.parts.stock import Move, adjust_stock, ensure_van, location, move_stock, receive_stock, transfer_stock
from tests.test_parts.conftest import qty_at


def test_receipt_transfer_adjust_through_the_api(db, api_as, central, regional, part, van):
    manager = api_as("manager")
    response = manager.post(
        "/api/v1/stock/receipts",
        json={
            "warehouse_id": central.id,
            "lines": [{"part_id": part.id, "qty": 10}],
            "note": "采购单 PO-778",
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["movements"][0]["reason"] == "receipt"
    response = manager.post(
        "/api/v1/stock/transfers",
        json={
            "from_warehouse_id": central.id,
            "to_warehouse_id": van.id,
            "lines": [{"part_id": part.id, "qty": 4}],
        },
    )
    assert response.status_code == 201
    response = manager.post(
        "/api/v1/stock/adjustments",
        json={"warehouse_id": central.id, "lines": [{"part_id": part.id, "qty": -1}], "note": "盘点少一支"},
    )
    assert response.status_code == 201, response.get_json()
    assert qty_at(central.id, part.id) == 5 and qty_at(van.id, part.id) == 4
    ledger = manager.get(f"/api/v1/stock/movements?part_id={part.id}").get_json()
    assert [m["reason"] for m in ledger["items"]] == ["adjust", "transfer", "receipt"]
    stock = manager.get(f"/api/v1/stock?warehouse_id={central.id}").get_json()
    assert stock["items"][0]["qty"] == 5
    adjust = manager.get("/api/v1/stock/movements?reason=adjust").get_json()["items"][0]
    assert adjust["to_warehouse"]["kind"] == "adjustment" and adjust["note"] == "盘点少一支"


def test_adjustment_found_units_and_missing_more_than_on_hand(api_as, central, part, receive):
    receive(central, part, 2)
    manager = api_as("manager")
    found = manager.post(
        "/api/v1/stock/adjustments",
        json={"warehouse_id": central.id, "lines": [{"part_id": part.id, "qty": 3}], "note": "盘点多出"},
    )
    assert found.status_code == 201 and qty_at(central.id, part.id) == 5
    too_many = manager.post(
        "/api/v1/stock/adjustments",
        json={"warehouse_id": central.id, "lines": [{"part_id": part.id, "qty": -6}], "note": "盘点"},
    )
    assert too_many.status_code == 409 and qty_at(central.id, part.id) == 5
    no_note = manager.post(
        "/api/v1/stock/adjustments",
        json={"warehouse_id": central.id, "lines": [{"part_id": part.id, "qty": -1}]},
    )
    assert no_note.status_code == 422 and "note" in no_note.get_json()["error"]["fields"]
    zero = manager.post(
        "/api/v1/stock/adjustments",
        json={"warehouse_id": central.id, "lines": [{"part_id": part.id, "qty": 0}], "note": "x"},
    )
    assert zero.status_code == 422


@pytest.mark.parametrize("role,status", [("dispatcher", 403), ("engineer", 403), ("callback", 403), ("admin", 201)])
def test_only_the_warehouse_roles_move_stock(db, api_as, central, part, role, status):
    response = api_as(role).post(
        "/api/v1/stock/receipts", json={"warehouse_id": central.id, "lines": [{"part_id": part.id, "qty": 1}]}
    )
    assert response.status_code == status
    assert db.session.query(StockMovement).count() == (1 if status == 201 else 0)


@pytest.mark.parametrize("role,status", [("dispatcher", 200), ("manager", 200), ("engineer", 403), ("callback", 403)])
def test_who_reads_stock(api_as, central, role, status):
    assert api_as(role).get("/api/v1/stock").status_code == status


@pytest.mark.parametrize(
    "body,field",
    [
        ({"lines": [{"part_id": 1, "qty": 1}]}, "warehouse_id"),
        ({"warehouse_id": 1, "lines": [{"part_id": 1, "qty": 0}]}, "lines"),
        ({"warehouse_id": 1, "lines": [{"part_id": 1, "qty": "many"}]}, "lines"),
        ({"warehouse_id": 1, "lines": [{"part_id": 99999, "qty": 1}]}, "lines.0.part_id"),
        ({"warehouse_id": 1, "lines": []}, "lines"),
    ],
)
def test_bad_receipts_are_422_and_change_nothing(db, api_as, central, part, body, field):
    response = api_as("manager").post("/api/v1/stock/receipts", json=body)
    assert response.status_code == 422, response.get_json()
    assert any(k.startswith(field) for k in response.get_json()["error"]["fields"])
    assert db.session.query(StockMovement).count() == 0
    assert qty_at(central.id, part.id) == 0


def test_receipt_into_a_van_is_refused(api_as, van, part):
    response = api_as("manager").post(
        "/api/v1/stock/receipts", json={"warehouse_id": van.id, "lines": [{"part_id": part.id, "qty": 1}]}
    )
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "movement_not_allowed"


def test_serial_tracked_receipt_needs_one_serial_per_unit(db, api_as, central, serial_part):
    manager = api_as("manager")
    short = manager.post(
        "/api/v1/stock/receipts",
        json={
            "warehouse_id": central.id,
            "lines": [{"part_id": serial_part.id, "qty": 2, "serials": ["A1"]}],
        },
    )
    assert short.status_code == 422 and "lines.0.serials" in short.get_json()["error"]["fields"]
    ok = manager.post(
        "/api/v1/stock/receipts",
        json={
            "warehouse_id": central.id,
            "lines": [{"part_id": serial_part.id, "qty": 2, "serials": ["A1", "A2"]}],
        },
    )
    assert ok.status_code == 201
    again = manager.post(
        "/api/v1/stock/receipts",
        json={
            "warehouse_id": central.id,
            "lines": [{"part_id": serial_part.id, "qty": 1, "serials": ["A1"]}],
        },
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "serial_not_here"
    assert qty_at(central.id, serial_part.id) == 2


def test_low_stock_alerts(api_as, central, make_part, receive):
    low, fine = make_part(reorder_threshold=5), make_part(reorder_threshold=1)
    receive(central, low, 3)
    receive(central, fine, 3)
    alerts = api_as("manager").get("/api/v1/stock/low").get_json()
    assert [(a["part"]["id"], a["qty"], a["threshold"]) for a in alerts] == [(low.id, 3, 5)]


def test_stale_part_update_is_409(api_as, part):
    manager = api_as("manager")
    version = part.version
    ok = manager.patch(f"/api/v1/parts/{part.id}", json={"version": version, "unit_price": "199.00"})
    assert ok.status_code == 200 and ok.get_json()["unit_price"] == "199.00"
    stale = manager.patch(f"/api/v1/parts/{part.id}", json={"version": version, "unit_price": "1.00"})
    assert stale.status_code == 409
    assert manager.get(f"/api/v1/parts/{part.id}").get_json()["unit_price"] == "199.00"


def test_part_number_is_unique_and_negative_price_is_422(db, api_as, part, supplier):
    manager = api_as("manager")
    taken = manager.post(
        "/api/v1/parts",
        json={"part_number": part.part_number, "name": "x", "category": "printer", "unit_price": "1.00"},
    )
    assert taken.status_code == 422 and "part_number" in taken.get_json()["error"]["fields"]
    negative = manager.post(
        "/api/v1/parts", json={"part_number": "NEW-1", "name": "x", "category": "printer", "unit_price": "-1"}
    )
    assert negative.status_code == 422 and "unit_price" in negative.get_json()["error"]["fields"]
    assert api_as("engineer").post("/api/v1/parts", json={}).status_code == 403


def test_ensure_van_is_one_per_engineer(db, engineer):
    first = ensure_van(engineer)
    second = ensure_van(engineer)
    db.session.commit()
    assert first.id == second.id and first.kind == "van" and first.engineer_id == engineer.id
    assert db.session.query(Warehouse).filter_by(kind="van").count() == 1


# --- the ledger invariant over random flows -----------------------------------------------------------------


def assert_ledger_matches_levels(db) -> None:
    """Every tracked level equals what the ledger brought in minus what it took out; none is negative;
    every serial
    unit is where its last movement put it, and a serial-tracked level counts exactly the units there."""
    flows: dict[tuple[int, int], int] = defaultdict(int)
    for m in db.session.scalars(sa.select(StockMovement)):
        flows[(m.to_warehouse_id, m.part_id)] += m.qty
        flows[(m.from_warehouse_id, m.part_id)] -= m.qty
    kinds = dict(db.session.execute(sa.select(Warehouse.id, Warehouse.kind)).all())
    levels = {(lv.warehouse_id, lv.part_id): lv.qty for lv in db.session.scalars(sa.select(StockLevel))}
    for key, qty in levels.items():
        assert qty >= 0, key
        assert qty == flows.get(key, 0), (key, qty, flows.get(key))
    for key, qty in flows.items():
        if states.LOCATION_KINDS[kinds[key[0]]].tracked:
            assert levels.get(key, 0) == qty, key
    units = defaultdict(int)
    for unit in db.session.scalars(sa.select(SerialUnit)):
        last = db.session.scalar(
            sa.select(StockMovement)
            .where(StockMovement.part_id == unit.part_id, StockMovement.serial == unit.serial)
            .order_by(StockMovement.id.desc())
            .limit(1)
        )
        assert last.to_warehouse_id == unit.warehouse_id, unit
        units[(unit.warehouse_id, unit.part_id)] += 1
    for (warehouse_id, part_id), count in units.items():
        if states.LOCATION_KINDS[kinds[warehouse_id]].tracked:
            assert levels.get((warehouse_id, part_id), 0) == count


STEP = st.tuples(
    st.sampled_from(["receipt", "transfer", "adjust", "use", "return"]),
    st.integers(0, 2),  # part
    st.integers(0, 2),  # from
    st.integers(0, 2),  # to
    st.integers(-3, 6),  # qty
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=12))
def test_ledger_always_sums_to_the_stock_levels(db, manager, central, regional, van, make_part, steps):
    # Fixtures live across examples: each example adds its own parts, the invariant covers them all.
    parts = [make_part(), make_part(), make_part(serial_tracked=True)]
    # A stocked start, so that most random steps have something to move.
    for part in parts:
        first = db.session.query(SerialUnit).count() + 1
        serials = [f"S{n}" for n in range(first, first + 4)] if part.serial_tracked else []
        receive_stock(
            {"warehouse_id": central.id, "lines": [{"part_id": part.id, "qty": 4, "serials": serials}]},
            manager,
        )
        transfer_stock(
            {
                "from_warehouse_id": central.id,
                "to_warehouse_id": van.id,
                "lines": [{"part_id": part.id, "qty": 2, "serials": serials[:2]}],
            },
            manager,
        )
    db.session.commit()
    places = [central, regional, van]
    serial_no = iter(range(db.session.query(SerialUnit).count() + 1, 10**6))
    done = []
    for kind, p, a, b, qty in steps:
        part = parts[p]
        here = db.session.scalars(
            sa.select(SerialUnit.serial).where(SerialUnit.part_id == part.id, SerialUnit.warehouse_id == places[a].id)
        ).all()
        serials = (
            (
                [f"S{next(serial_no)}" for _ in range(max(qty, 0))]
                if kind in ("receipt",) or (kind == "adjust" and qty > 0)
                else here[: abs(qty)]
            )
            if part.serial_tracked
            else []
        )
        line = {"part_id": part.id, "qty": abs(qty) if kind != "adjust" else qty, "serials": serials}
        try:
            if kind == "receipt":
                receive_stock({"warehouse_id": places[a].id, "lines": [line]}, manager)
            elif kind == "transfer":
                transfer_stock(
                    {"from_warehouse_id": places[a].id, "to_warehouse_id": places[b].id, "lines": [line]},
                    manager,
                )
            elif kind == "adjust" and qty:
                adjust_stock({"warehouse_id": places[a].id, "lines": [line], "note": "盘点"}, manager)
            elif kind == "use":
                move_stock(
                    [
                        Move(
                            part.id,
                            1,
                            van.id,
                            location("customer").id,
                            (serials or [None])[0] if part.serial_tracked else None,
                        )
                    ],
                    reason="use",
                    actor=manager,
                )
            elif kind == "return" and qty > 0:
                open_return(
                    {
                        "part_id": part.id,
                        "qty": 1 if part.serial_tracked else qty,
                        "serial": (serials or [None])[0],
                        "warehouse_id": places[a].id,
                    },
                    manager,
                )
            db.session.commit()
            done.append(kind)
        except ApiError:
            db.session.rollback()
        assert_ledger_matches_levels(db)
    event(f"steps applied: {len(done)} of {len(steps)}")
