"""What a visit costs and what its coverage pays, per charging method."""

from decimal import Decimal

import pytest

from fieldservice.billing.charges import STANDARD_VISIT_FEE, compute_charges, request_charges
from fieldservice.core.errors import ValidationFailed
from fieldservice.settlement.operations import STANDARD_LABOUR_RATE
from tests.test_contracts.conftest import on

D = Decimal
PARTS = [("RO 膜", 1, "320.00"), ("PP 棉滤芯", 2, "45.50")]  # 411.00
COSTS = [{"kind": "toll", "amount": "30", "note": "过路费"}]


def _amounts(charges):
    return charges.total, charges.covered, charges.customer_amount


@pytest.fixture
def setup(make_equipment, make_agreement, finished_visit):
    """setup(method) -> charges of a 2 h visit at 100/h + 50 fee + parts 411 + toll 30 under that method."""

    def run(method, **agreement_kw):
        equipment = make_equipment()
        if method:
            make_agreement(equipment.customer, [equipment], charging_method=method, **agreement_kw)
        visit = finished_visit(equipment.customer, equipment, hours="2", costs=COSTS)
        return compute_charges(visit, part_lines=PARTS)

    return run


def test_covered_pays_everything(setup):
    charges = setup("covered")
    assert _amounts(charges) == (D("691.00"), D("691.00"), D("0.00"))
    assert [line.label for line in charges.lines][:2] == ["人工费", "上门费"]
    assert charges.lines[0][:4] == ("人工费", D("2.00"), D("100.00"), D("200.00"))


def test_labour_only_pays_labour_and_the_visit_fee(setup):
    charges = setup("labour_only")
    # labour 200 + fee 50 covered; parts 411 + toll 30 to pay.
    assert _amounts(charges) == (D("691.00"), D("250.00"), D("441.00"))
    covered_by_line = {line.label: line.covered_amount for line in charges.lines}
    assert covered_by_line["RO 膜"] == D("0.00")


def test_per_visit_charges_the_fixed_fee_instead_of_labour(setup):
    charges = setup("per_visit", visit_fee=D("300.00"))
    labour = charges.lines[0]
    assert (labour.qty, labour.amount) == (D("2.00"), D("0.00"))
    # fee 300 + parts 411 + toll 30; the coverage pays nothing.
    assert _amounts(charges) == (D("741.00"), D("0.00"), D("741.00"))


def test_time_and_materials_pays_nothing(setup):
    charges = setup("time_and_materials")
    assert _amounts(charges) == (D("691.00"), D("0.00"), D("691.00"))


def test_no_coverage_is_time_and_materials_at_standard_rates(setup):
    charges = setup(None)
    expected = 2 * STANDARD_LABOUR_RATE + STANDARD_VISIT_FEE + D("411.00") + D("30.00")
    assert charges.charging_method == "time_and_materials"
    assert _amounts(charges) == (expected, D("0.00"), expected)


def test_warranty_pays_parts_and_labour_not_other_costs(make_equipment, finished_visit):
    equipment = make_equipment(warranty_until=on(200))
    visit = finished_visit(equipment.customer, equipment, hours="1.5", costs=COSTS)
    charges = compute_charges(visit, part_lines=PARTS)
    labour = D("1.5") * STANDARD_LABOUR_RATE
    assert charges.charging_method == "warranty"
    assert charges.covered == labour + STANDARD_VISIT_FEE + D("411.00")
    assert charges.customer_amount == D("30.00")


def test_work_outside_the_agreements_service_items_is_charged(make_equipment, make_agreement, finished_visit):
    equipment = make_equipment()
    make_agreement(equipment.customer, [equipment], charging_method="covered", service_items=["repair"])
    visit = finished_visit(equipment.customer, equipment, problem_type="install")
    charges = compute_charges(visit, part_lines=[])
    assert charges.charging_method == "time_and_materials"
    assert charges.covered == D("0.00")
    assert charges.customer_amount == D("250.00")  # 2 h x 100 + 50, the agreement's own rates


def test_request_charges_add_up_the_visits(make_equipment, make_agreement, finished_visit):
    equipment = make_equipment()
    make_agreement(equipment.customer, [equipment], charging_method="labour_only")
    visit = finished_visit(equipment.customer, equipment, hours="1")
    totals = request_charges(visit.request, {visit.id: PARTS})
    assert (totals.total, totals.covered, totals.customer_amount) == (D("561.00"), D("150.00"), D("411.00"))
    assert [c.visit_id for c in totals.visits] == [visit.id]


def test_a_bad_part_line_is_refused(make_equipment, finished_visit):
    equipment = make_equipment()
    visit = finished_visit(equipment.customer, equipment)
    with pytest.raises(ValidationFailed):
        compute_charges(visit, part_lines=[("RO 膜", 0, "10")])
