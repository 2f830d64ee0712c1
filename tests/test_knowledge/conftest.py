import pytest


def cause(description, *solutions):
    """A cause dict with solutions given as summaries or (summary, steps) pairs."""
    return {
        "description": description,
        "solutions": [
            {"summary": s, "steps": []} if isinstance(s, str) else {"summary": s[0], "steps": list(s[1])}
            for s in solutions
        ],
    }


@pytest.fixture
def manager(make_user):
    return make_user("manager")


@pytest.fixture
def make_entry(db, manager):
    """make_entry("机器底部漏水", category=..., causes=[...], status="published") -> a committed entry."""
    from fieldservice.knowledge import operations as ops

    def make(symptom, category="water_purifier", causes=None, status="published", actor=None, **kw):
        data = {
            "symptom": symptom,
            "category": category,
            "status": status,
            "causes": causes or [cause("密封圈老化", "更换密封圈")],
            **kw,
        }
        entry = ops.create_entry(data, actor or manager)
        db.session.commit()
        return entry

    return make


@pytest.fixture
def demo_base(db, manager, make_product):
    """The demo knowledge base (every ENTRIES row, published) with the demo products it names."""
    from fieldservice.knowledge import demo
    from fieldservice.knowledge import operations as ops

    models = {row[1] for row in demo.ENTRIES if row[1]}
    products = {}
    for row in demo.ENTRIES:
        if row[1] in models and row[1] not in products:
            products[row[1]] = make_product(model=row[1], category=row[0], name=row[3][:10])
    entries = [ops.create_entry(demo.entry_data(row, products), manager) for row in demo.ENTRIES]
    db.session.commit()
    return entries
