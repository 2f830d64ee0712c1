"""Warranty claims to the manufacturer (二次索赔): collected from verified warranty visits per manufacturer and period,
a visit in one claim only, submitted, then accepted in full, in part (line by line, with reasons) or rejected; the
amounts reconcile exactly; two managers deciding one claim on PostgreSQL: one wins."""

import csv
import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from fieldservice.auth.models import User
from fieldservice.core.clock import local_date
from fieldservice.core.errors import ApiError
from fieldservice.core.models import utcnow
from fieldservice.extensions import db as _db
from fieldservice.settlement import claims
from fieldservice.settlement import operations as ops
from fieldservice.settlement.models import Verification, WarrantyClaim, WarrantyClaimVisit
from tests.test_parts.conftest import visit_body
from tests.test_sync.conftest import png_data_url

D = Decimal


def _period() -> str:
    return local_date(utcnow()).strftime("%Y-%m")


@pytest.fixture
def warranty_visit(db, api_as, make_user, engineer, make_equipment, manager, supplier):
    """warranty_visit(items=[(item, qty)], parts=[], warranty=True, manufacturer=True, approve=True) -> the visit:
    a request on a unit under warranty, assigned, worked by the engineer through the API, verified by a manager."""
    from fieldservice.customers.models import Product
    from fieldservice.requests import operations as rops
    from fieldservice.requests.models import ProblemType, Visit

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leak", category="repair"))
    db.session.commit()
    dispatcher = make_user("dispatcher")

    def make(items=(), parts=(), warranty=True, manufacturer=True, approve=True, hours="1.0"):
        today = utcnow().date()
        equipment = make_equipment(
            installed_on=today - timedelta(days=100),
            warranty_until=today + timedelta(days=300) if warranty else today - timedelta(days=1),
        )
        product = db.session.get(Product, equipment.product_id)
        if manufacturer:
            claims.set_manufacturer(product.id, supplier.id, manager)
        sr = rops.create_request(
            {
                "customer_id": equipment.customer_id,
                "product_id": product.id,
                "equipment_id": equipment.id,
                "problem_type": "leak",
                "description": "净水器漏水",
                "priority": 3,
                "required_by": utcnow() + timedelta(days=2),
            },
            dispatcher,
        )
        db.session.commit()
        rops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
        db.session.commit()
        body = visit_body(list(parts), labour_hours=hours)
        body["items"] = [{"repair_item_id": item.id, "quantity": qty} for item, qty in items]
        body["signature"] = png_data_url()
        response = api_as(user=engineer.user).post(f"/api/v1/requests/{sr.id}/visits", json=body)
        assert response.status_code == 201, response.json
        visit = db.session.get(Visit, response.json["id"])
        if approve:
            v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
            ops.perform_verification(v, "approve", manager, None)
            db.session.commit()
        return visit

    return make


@pytest.fixture
def two_visits(make_item, warranty_visit, part, stock_van):
    """Two verified warranty visits: reimbursable items (hourly and fixed), a non-reimbursable one, and a part."""
    hourly = make_item(standard_hours="1.50", reimbursable=True)
    fixed = make_item(pricing="fixed", fixed_price="88.00", standard_hours="0.50", reimbursable=True)
    ours = make_item(standard_hours="2.00", reimbursable=False)
    stock_van(part, 3)
    first = warranty_visit(items=[(hourly, 2), (ours, 1)], parts=[{"part_id": part.id, "qty": 1}])
    second = warranty_visit(items=[(fixed, 3)])
    return first, second


def test_collect_puts_reimbursable_items_and_parts_of_verified_warranty_visits_into_one_claim(
    db, manager, supplier, two_visits, part
):
    first, second = two_visits
    made = claims.collect_claims(_period(), manager)
    db.session.commit()
    assert len(made) == 1
    claim = made[0]
    assert claim.status == "draft" and claim.supplier_id == supplier.id and claim.number.startswith("WC-")
    lines = [(ln.visit_id, ln.kind, ln.quantity, ln.hours, ln.amount) for ln in claim.lines]
    # 1.5 h x 2 at the standard rate 120.00; 88.00 x 3 fixed; the part at 180.00; the item the maker does not pay
    # back stays out.
    assert sorted(lines) == sorted(
        [
            (first.id, "item", 2, D("3.00"), D("360.00")),
            (first.id, "part", 1, D("0.00"), D("180.00")),
            (second.id, "item", 3, D("1.50"), D("264.00")),
        ]
    )
    assert claim.claimed_amount == D("804.00")
    assert {ln.equipment_serial for ln in claim.lines} == {first.request.equipment.serial_number,
                                                             second.request.equipment.serial_number}


def test_only_verified_warranty_visits_with_a_manufacturer_are_collected(db, manager, make_item, warranty_visit):
    item = make_item(reimbursable=True)
    warranty_visit(items=[(item, 1)], approve=False)
    warranty_visit(items=[(item, 1)], warranty=False)
    warranty_visit(items=[(item, 1)], manufacturer=False)
    assert claims.collect_claims(_period(), manager) == []
    with pytest.raises(ApiError) as bad:
        claims.collect_claims("2026-13", manager)
    assert bad.value.status == 422


def test_collecting_twice_claims_each_visit_once(db, manager, two_visits, make_item, warranty_visit):
    claims.collect_claims(_period(), manager)
    db.session.commit()
    assert claims.collect_claims(_period(), manager) == []
    # A visit verified later joins the same draft; the first visits are not claimed again.
    late = warranty_visit(items=[(make_item(reimbursable=True), 1)])
    again = claims.collect_claims(_period(), manager)
    db.session.commit()
    assert len(again) == 1 and db.session.query(WarrantyClaim).count() == 1
    assert sorted(v.visit_id for v in db.session.query(WarrantyClaimVisit)) == sorted(
        [two_visits[0].id, two_visits[1].id, late.id]
    )
    assert [ln.visit_id for ln in again[0].lines].count(late.id) == 1
    assert again[0].claimed_amount == D("924.00")


@pytest.mark.postgres
def test_two_managers_collecting_at_once_claim_each_visit_once(app, db, manager, make_user, two_visits):
    managers = [manager.id, make_user("manager").id]
    db.session.commit()
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i):
        with app.app_context():
            try:
                actor = _db.session.get(User, managers[i])
                barrier.wait(10)
                results[i] = len(claims.collect_claims(_period(), actor))
                _db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports what went wrong
                _db.session.rollback()
                results[i] = repr(exc)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 1]
    db.session.expire_all()
    assert db.session.query(WarrantyClaim).count() == 1
    assert db.session.query(WarrantyClaimVisit).count() == 2


def _claim(db, manager) -> WarrantyClaim:
    claim = claims.collect_claims(_period(), manager)[0]
    db.session.commit()
    return claim


def test_submit_then_accept_in_full_reconciles(db, manager, two_visits):
    claim = _claim(db, manager)
    claims.perform_claim(claim, "submit", manager, claim.version)
    claims.perform_claim(claim, "accept", manager, claim.version)
    db.session.commit()
    assert claim.status == "accepted" and claim.accepted_amount == D("804.00")
    assert claims.reconcile(claim) == {
        "claimed": D("804.00"),
        "accepted": D("804.00"),
        "written_off": D("0.00"),
        "lines": 3,
        "lines_reduced": 0,
        "balanced": True,
    }


def test_accept_in_part_line_by_line_with_reasons(db, manager, two_visits):
    claim = _claim(db, manager)
    claims.perform_claim(claim, "submit", manager, claim.version)
    db.session.commit()
    part_line = next(ln for ln in claim.lines if ln.kind == "part")
    item_line = next(ln for ln in claim.lines if ln.kind == "item" and ln.quantity == 2)
    # A reduced line without a reason, a line of another claim, and more than claimed: all refused, nothing changed.
    for lines, field in (
        ([{"line_id": part_line.id, "accepted_amount": "100.00"}], "lines.0.reason"),
        ([{"line_id": 999999, "accepted_amount": "1.00", "reason": "x"}], "lines.0.line_id"),
        ([{"line_id": part_line.id, "accepted_amount": "180.01", "reason": "x"}], "lines.0.accepted_amount"),
        ([{"line_id": part_line.id, "accepted_amount": "180.00"}], "lines"),
    ):
        with pytest.raises(ApiError) as bad:
            claims.perform_claim(claim, "accept_part", manager, claim.version, lines=lines)
        assert bad.value.status == 422 and field in bad.value.fields
        db.session.rollback()
    claim = db.session.get(WarrantyClaim, claim.id)
    assert claim.status == "submitted"
    claims.perform_claim(
        claim,
        "accept_part",
        manager,
        claim.version,
        lines=[
            {"line_id": part_line.id, "accepted_amount": "0", "reason": "旧件未返厂"},
            {"line_id": item_line.id, "accepted_amount": "239.99", "reason": "工时按厂家标准 2 小时"},
        ],
    )
    db.session.commit()
    assert claim.status == "partly_accepted"
    # 804.00 claimed; 180.00 and 120.01 not paid.
    assert claim.accepted_amount == D("503.99")
    figures = claims.reconcile(claim)
    assert figures["written_off"] == D("300.01") and figures["lines_reduced"] == 2 and figures["balanced"]
    assert part_line.reason == "旧件未返厂" and part_line.accepted_amount == D("0.00")


def test_reject_needs_a_reason_and_accepts_nothing(db, manager, two_visits):
    claim = _claim(db, manager)
    claims.perform_claim(claim, "submit", manager, claim.version)
    with pytest.raises(ApiError) as bad:
        claims.perform_claim(claim, "reject", manager, claim.version, reason="  ")
    assert bad.value.status == 422
    claims.perform_claim(claim, "reject", manager, claim.version, reason="超出厂家保修范围")
    db.session.commit()
    assert claim.status == "rejected" and claim.accepted_amount == D("0.00")
    assert claims.reconcile(claim)["written_off"] == D("804.00")


def test_steps_follow_the_table_and_a_stale_version_is_a_409(db, manager, two_visits, make_user):
    claim = _claim(db, manager)
    for action in ("accept", "accept_part", "reject"):
        with pytest.raises(ApiError) as illegal:
            claims.perform_claim(claim, action, manager, claim.version, reason="x")
        assert illegal.value.code == "illegal_transition"
    with pytest.raises(ApiError) as stale:
        claims.perform_claim(claim, "submit", manager, claim.version - 1 or 99)
    assert stale.value.code == "stale_version"
    with pytest.raises(ApiError) as forbidden:
        claims.perform_claim(claim, "submit", make_user("dispatcher"), claim.version)
    assert forbidden.value.status == 403


def test_a_cancelled_draft_gives_its_visits_back(db, manager, two_visits):
    claim = _claim(db, manager)
    claims.perform_claim(claim, "cancel", manager, claim.version)
    db.session.commit()
    assert db.session.query(WarrantyClaimVisit).count() == 0
    again = claims.collect_claims(_period(), manager)
    db.session.commit()
    assert len(again) == 1 and again[0].id != claim.id and again[0].claimed_amount == D("804.00")


@pytest.mark.postgres
def test_two_managers_deciding_one_claim_exactly_one_wins(app, db, manager, make_user, two_visits):
    claim = _claim(db, manager)
    claims.perform_claim(claim, "submit", manager, claim.version)
    db.session.commit()
    claim_id, version = claim.id, claim.version
    managers = [manager.id, make_user("manager").id]
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i):
        with app.app_context():
            try:
                actor = _db.session.get(User, managers[i])
                row = _db.session.get(WarrantyClaim, claim_id)
                barrier.wait(10)
                if i == 0:
                    results[i] = claims.perform_claim(row, "accept", actor, version).status
                else:
                    results[i] = claims.perform_claim(row, "reject", actor, version, reason="不在保修期").status
                _db.session.commit()
            except ApiError as exc:
                _db.session.rollback()
                results[i] = exc.code
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) in (["accepted", "stale_version"], ["rejected", "stale_version"])
    db.session.expire_all()
    final = db.session.get(WarrantyClaim, claim_id)
    assert final.version == version + 1 and final.status in ("accepted", "rejected")
    assert claims.reconcile(final)["balanced"]


def test_a_part_claimed_from_its_supplier_as_a_return_is_not_claimed_again(db, manager, two_visits):
    from fieldservice.parts.models import ReturnOrder, SupplierClaim, VisitPart

    first, _second = two_visits
    used = db.session.query(VisitPart).filter_by(visit_id=first.id).one()
    order = db.session.get(ReturnOrder, used.return_order_id)
    assert order is not None
    db.session.add(
        SupplierClaim(
            number="SC-TEST-0001",
            status="submitted",
            return_order_id=order.id,
            supplier_id=order.part.supplier_id,
            part_id=order.part_id,
            qty=1,
            claimed_amount=D("180.00"),
        )
    )
    db.session.commit()
    claim = _claim(db, manager)
    assert [ln.kind for ln in claim.lines if ln.visit_id == first.id] == ["item"]
    assert claim.claimed_amount == D("624.00")
    kinds = {(row["kind"], row["number"]) for row in claims.all_claims()}
    assert kinds == {("warranty", claim.number), ("part", "SC-TEST-0001")}


def test_the_csv_lists_every_line_and_the_total(db, manager, two_visits):
    claim = _claim(db, manager)
    rows = list(csv.reader(io.StringIO(claims.claim_csv(claim).decode("utf-8-sig"))))
    assert rows[0][:3] == ["claim", "supplier", "period"]
    assert len(rows) == 1 + 3 + 1
    assert rows[-1][3] == "total" and rows[-1][12] == "804.00"
    assert sum(D(r[12]) for r in rows[1:-1]) == D("804.00")


def test_acceptance_rate_by_supplier(db, manager, two_visits, supplier):
    claim = _claim(db, manager)
    claims.perform_claim(claim, "submit", manager, claim.version)
    part_line = next(ln for ln in claim.lines if ln.kind == "part")
    claims.perform_claim(
        claim, "accept_part", manager, claim.version,
        lines=[{"line_id": part_line.id, "accepted_amount": "0.00", "reason": "人为损坏"}],
    )
    db.session.commit()
    [row] = claims.acceptance_by_supplier()
    assert row["supplier_id"] == supplier.id and row["claims"] == 1
    assert (row["claimed"], row["accepted"], row["rate"]) == (D("804.00"), D("624.00"), D("0.7761"))


# ---- over the API


def test_the_api_collects_submits_and_accepts_in_part(api_as, db, two_visits, supplier):
    api = api_as("manager")
    bad = api.post("/api/v1/warranty-claims/collect", json={"period": "2026-13"})
    assert bad.status_code == 422
    collected = api.post("/api/v1/warranty-claims/collect", json={"period": _period(), "supplier_id": supplier.id})
    assert collected.status_code == 200, collected.json
    [made] = collected.json["claims"]
    assert made["claimed_amount"] == "804.00" and made["status"] == "draft"
    assert api.post("/api/v1/warranty-claims/collect", json={"period": _period()}).json == {"claims": []}
    detail = api.get(f"/api/v1/warranty-claims/{made['id']}").json
    assert len(detail["lines"]) == 3 and detail["reconciliation"]["balanced"] is True
    stale = api.post(f"/api/v1/warranty-claims/{made['id']}/submit", json={"version": made["version"] + 5})
    assert stale.status_code == 409 and stale.json["error"]["code"] == "stale_version"
    submitted = api.post(f"/api/v1/warranty-claims/{made['id']}/submit", json={"version": made["version"]}).json
    assert submitted["status"] == "submitted"
    part_line = next(ln for ln in detail["lines"] if ln["kind"] == "part")
    no_reason = api.post(
        f"/api/v1/warranty-claims/{made['id']}/accept-part",
        json={"version": submitted["version"], "lines": [{"line_id": part_line["id"], "accepted_amount": "90.00"}]},
    )
    assert no_reason.status_code == 422 and "lines.0.reason" in no_reason.json["error"]["fields"]
    answered = api.post(
        f"/api/v1/warranty-claims/{made['id']}/accept-part",
        json={
            "version": submitted["version"],
            "lines": [{"line_id": part_line["id"], "accepted_amount": "90.00", "reason": "只认可半价"}],
        },
    )
    assert answered.status_code == 200, answered.json
    assert answered.json["status"] == "partly_accepted" and answered.json["accepted_amount"] == "714.00"
    assert answered.json["reconciliation"]["written_off"] == "90.00"
    again = api.post(f"/api/v1/warranty-claims/{made['id']}/accept", json={"version": answered.json["version"]})
    assert again.status_code == 409 and again.json["error"]["code"] == "illegal_transition"
    csv_body = api.get(f"/api/v1/warranty-claims/{made['id']}.csv")
    assert csv_body.status_code == 200 and "只认可半价" in csv_body.get_data(as_text=True)
    pdf = api.get(f"/api/v1/warranty-claims/{made['id']}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    overview = api.get("/api/v1/warranty-claims/overview").json
    assert overview["by_supplier"][0]["rate"] == "0.8881"
    assert [c["number"] for c in overview["claims"]] == [made["number"]]
    listed = api.get("/api/v1/warranty-claims", query_string={"status": "partly_accepted"}).json
    assert listed["total"] == 1


def test_only_managers_handle_claims(api_as, console_as):
    for role in ("dispatcher", "engineer", "callback"):
        assert api_as(role).get("/api/v1/warranty-claims").status_code == 403
        assert console_as(role).get("/settlement/claims").status_code == 403
    assert api_as("manager").get("/api/v1/warranty-claims/999999").status_code == 404


def test_the_manufacturer_of_a_product_over_the_api(api_as, make_product, supplier, db):
    product = make_product()
    api = api_as("manager")
    assert api.put(f"/api/v1/products/{product.id}/manufacturer", json={"supplier_id": 999999}).status_code == 422
    assert api.put("/api/v1/products/999999/manufacturer", json={"supplier_id": supplier.id}).status_code == 404
    saved = api.put(f"/api/v1/products/{product.id}/manufacturer", json={"supplier_id": supplier.id})
    assert saved.status_code == 200 and saved.json == {"product_id": product.id, "supplier_id": supplier.id}
    assert api.put(f"/api/v1/products/{product.id}/manufacturer", json={"supplier_id": None}).status_code == 200
    assert claims.manufacturers() == []


# ---- in the console


def test_the_console_collects_submits_and_records_a_partial_acceptance(console_as, db, two_visits):
    console = console_as("manager")
    for lang in ("", "?lang=en"):
        assert console.get("/settlement/claims" + lang).status_code == 200
    collected = console.post("/settlement/claims/collect", data={"period": _period()})
    assert collected.status_code == 302
    claim = db.session.query(WarrantyClaim).one()
    assert collected.headers["Location"].endswith(f"/settlement/claims/{claim.id}")
    page = console.get(f"/settlement/claims/{claim.id}").get_data(as_text=True)
    assert "提交给厂家" in page and claim.number in page
    console.post(f"/settlement/claims/{claim.id}/submit", data={"version": claim.version})
    db.session.expire_all()
    claim = db.session.get(WarrantyClaim, claim.id)
    assert claim.status == "submitted"
    part_line = next(ln for ln in claim.lines if ln.kind == "part")
    # Less than claimed without a reason: the form says so and nothing changes.
    refused = console.post(
        f"/settlement/claims/{claim.id}/accept-part",
        data={"version": claim.version, f"accepted_{part_line.id}": "50"},
        follow_redirects=True,
    )
    assert "原因" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WarrantyClaim, claim.id).status == "submitted"
    console.post(
        f"/settlement/claims/{claim.id}/accept-part",
        data={"version": claim.version, f"accepted_{part_line.id}": "50", f"reason_{part_line.id}": "旧件损坏"},
    )
    db.session.expire_all()
    claim = db.session.get(WarrantyClaim, claim.id)
    assert claim.status == "partly_accepted" and claim.accepted_amount == D("674.00")
    assert console.get(f"/settlement/claims/{claim.id}.pdf").data.startswith(b"%PDF")
    assert console.get(f"/settlement/claims/{claim.id}.csv").status_code == 200
    overview = console.get("/settlement/claims").get_data(as_text=True)
    assert "部分接受" in overview and "83.8%" in overview


def test_the_console_names_a_products_manufacturer(console_as, db, make_product, supplier):
    product = make_product()
    console = console_as("manager")
    assert console.post("/settlement/claims/manufacturers", data={"product_id": "x"}).status_code == 302
    console.post("/settlement/claims/manufacturers", data={"product_id": product.id, "supplier_id": supplier.id})
    assert [(p.id, s.id) for p, s in claims.manufacturers()] == [(product.id, supplier.id)]


# ---- only verified visits count in invoices


def test_an_invoice_counts_only_verified_visits(db, api_as, make_equipment, make_user, engineer, make_item, manager):
    """Two visits on one request (the first not resolved, so never verified): the issued invoice is the verified
    one's."""
    from fieldservice.billing import charges as charge_ops
    from fieldservice.requests import operations as rops
    from fieldservice.requests.models import ProblemType, ServiceRequest

    db.session.add(ProblemType(code="noise", name_zh="噪音", name_en="Noise", category="repair"))
    dispatcher = make_user("dispatcher")
    unit = make_equipment()
    sr = rops.create_request(
        {"customer_id": unit.customer_id, "equipment_id": unit.id, "problem_type": "noise", "description": "噪音大",
         "priority": 3, "required_by": utcnow() + timedelta(days=2)},
        dispatcher,
    )
    db.session.commit()
    rops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
    db.session.commit()
    phone = api_as(user=engineer.user)
    first = visit_body([], outcome="unresolved", labour_hours="1.0")
    assert phone.post(f"/api/v1/requests/{sr.id}/visits", json=first).status_code == 201
    # Not resolved: the request goes back to be assigned again.
    sr = db.session.get(ServiceRequest, sr.id)
    db.session.refresh(sr)
    rops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
    db.session.commit()
    second = visit_body([], labour_hours="2.0")
    second["items"] = [{"repair_item_id": make_item(standard_hours="2.00").id, "quantity": 1}]
    answer = phone.post(f"/api/v1/requests/{sr.id}/visits", json=second)
    assert answer.status_code == 201, answer.json
    sr = db.session.get(ServiceRequest, sr.id)
    everything = charge_ops.request_charges(sr).customer_amount
    invoice = charge_ops.request_invoice(sr, {"title": "客户"}, None)
    db.session.commit()
    with pytest.raises(ApiError) as waiting:
        charge_ops.perform_invoice(invoice, "issue", manager, invoice.version)
    assert waiting.value.code == "visits_not_verified"
    db.session.rollback()
    v = db.session.query(Verification).filter_by(request_id=sr.id).one()
    ops.perform_verification(v, "approve", manager, None)
    charge_ops.perform_invoice(invoice, "issue", manager, invoice.version)
    db.session.commit()
    verified = charge_ops.request_charges(sr, verified_only=True).customer_amount
    assert invoice.amount == verified < everything
