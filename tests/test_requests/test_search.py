"""The request list's search box (`q`): number, customer name and phone, description (Chinese too), ranked."""

from datetime import timedelta

import pytest

from fieldservice.core.models import utcnow


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["number"] for item in response.get_json()["items"]]


def test_results_are_ranked_number_then_starts_then_contains_then_description(db, make_request, make_customer, api_as):
    soon = utcnow() + timedelta(days=1)
    # Due earliest, so that by due time alone it would come first: a description-only match.
    described = make_request(description="压缩机编号 5678123 处异响", required_by=soon)
    containing = make_request(customer=make_customer(phone="021-91256781"), required_by=soon + timedelta(hours=1))
    starting = make_request(customer=make_customer(phone="5678-0000"), required_by=soon + timedelta(hours=2))
    make_request(customer=make_customer(phone="13900000000"))  # no match
    api = api_as("dispatcher")
    assert numbers(api.get("/api/v1/requests?q=5678")) == [starting.number, containing.number, described.number]
    # An explicit order wins over the ranking.
    assert numbers(api.get("/api/v1/requests?q=5678&sort=due")) == [
        described.number,
        containing.number,
        starting.number,
    ]
    # The number itself first, whatever its customer or due time.
    assert numbers(api.get(f"/api/v1/requests?q={starting.number.lower()}")) == [starting.number]


def test_search_finds_chinese_words_of_any_length_and_customer_names(db, make_request, make_customer, api_as):
    leak = make_request(description="设备底部有积水，疑似管路接头漏水")
    hotel = make_request(customer=make_customer(name="上海浦江大酒店"), description="空调不制冷")
    make_request(description="面板按键损坏")
    api = api_as("dispatcher")
    assert numbers(api.get("/api/v1/requests?q=漏水")) == [leak.number]  # two characters: below a trigram
    assert numbers(api.get("/api/v1/requests?q=管路接头")) == [leak.number]
    assert numbers(api.get("/api/v1/requests?q=浦江大酒")) == [hotel.number]
    body = api.get("/api/v1/requests?q=%25_").get_json()  # taken literally: nothing contains "%_"
    assert (body["items"], body["total"]) == ([], 0)


def test_search_totals_count_the_matches(db, make_request, make_customer, api_as):
    customer = make_customer(phone="13912340000")
    for _ in range(3):
        make_request(customer=customer)
    make_request()
    body = api_as("dispatcher").get("/api/v1/requests?q=1391234&per_page=2").get_json()
    assert (len(body["items"]), body["total"]) == (2, 3)


def test_the_console_list_searches_and_keeps_the_best_match_order(db, make_request, make_customer, console_as):
    hotel = make_request(customer=make_customer(name="锦江宾馆"))
    make_request()
    page = console_as("dispatcher").get("/requests?q=锦江").get_data(as_text=True)
    assert hotel.number in page
    assert '<option value="" selected>' in page


def test_a_customer_name_of_two_characters_is_found_through_its_doubled_trigram_index(
    db, make_request, make_customer, api_as
):
    """A dispatcher types a customer's two-character name (张伟): every tier finds that customer's requests, and
    on PostgreSQL the customers are looked up through their name's doubled trigram index, not read whole."""
    zhang = make_request(customer=make_customer(name="张伟", phone="13911112222"), description="空调不制冷")
    inside = make_request(customer=make_customer(name="上海张伟贸易", phone="13933334444"), description="异响")
    described = make_request(customer=make_customer(name="张敏", phone="13955556666"), description="张伟介绍的客户")
    make_request(customer=make_customer(name="李伟", phone="13977778888"), description="漏水")
    # The name that starts with it, then the one that contains it, then the description.
    found = numbers(api_as("dispatcher").get("/api/v1/requests?q=张伟"))
    assert found == [zhang.number, inside.number, described.number]
    if db.engine.dialect.name != "postgresql":
        return
    import sqlalchemy as sa

    from fieldservice.customers.models import Customer
    from fieldservice.extensions import db as fsdb
    from fieldservice.requests.search import _customer_contains

    query = sa.select(Customer.id).where(_customer_contains("张伟", False, True))
    fsdb.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    sql = str(query.compile(fsdb.engine, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(fsdb.session.scalars(sa.text("EXPLAIN " + sql)))
    assert "ix_customers_name_doubled_trgm" in plan


@pytest.mark.parametrize("customer_ids", [1000, 0], ids=["customers as ids", "customers as a subquery"])
def test_pages_of_a_ranked_search_follow_one_another_across_the_tiers(
    db, make_request, make_customer, api_as, monkeypatch, customer_ids
):
    from fieldservice.requests import search

    monkeypatch.setattr(search, "CUSTOMER_IDS", customer_ids)
    soon = utcnow() + timedelta(days=1)
    starting = make_customer(phone="77123-000")
    containing = make_customer(name="华东77123仓")
    expected = []
    for hours in (5, 1, 3):
        expected.append((1, hours, make_request(customer=starting, required_by=soon + timedelta(hours=hours))))
    for hours in (4, 0):
        expected.append((2, hours, make_request(customer=containing, required_by=soon + timedelta(hours=hours))))
    for hours in (2, 6, 7):
        expected.append(
            (3, hours, make_request(description=f"铭牌 77123-{hours} 模糊", required_by=soon + timedelta(hours=hours)))
        )
    # In a tier of its own and in the description too: listed once, in its best tier.
    both = make_request(customer=starting, description="铭牌 77123 脱落", required_by=soon + timedelta(hours=9))
    expected.append((1, 9, both))
    make_request(description="无关")
    ranked = [sr.number for _tier, _hours, sr in sorted(expected, key=lambda t: (t[0], t[1]))]
    api = api_as("dispatcher")
    assert numbers(api.get("/api/v1/requests?q=77123&per_page=100")) == ranked
    pages = [numbers(api.get(f"/api/v1/requests?q=77123&per_page=3&page={page}")) for page in (1, 2, 3, 4, 5)]
    assert [number for page in pages for number in page] == ranked
    assert pages[-1] == []
    body = api.get("/api/v1/requests?q=77123&per_page=3&page=2").get_json()
    assert (body["total"], body["total_capped"]) == (9, False)


def test_a_broad_search_stops_counting_at_the_cap(db, make_request, api_as, console_as, monkeypatch):
    from fieldservice.requests import search

    monkeypatch.setattr(search, "COUNT_CAP", 3)
    for _ in range(5):
        make_request(description="冷凝器漏水")
    make_request(description="面板损坏")
    body = api_as("dispatcher").get("/api/v1/requests?q=漏水&per_page=2&page=3").get_json()
    # The count says "more than 3"; the pages past it still answer.
    assert (body["total"], body["total_capped"], len(body["items"])) == (3, True, 1)
    full = api_as("dispatcher").get("/api/v1/requests?q=漏水&per_page=10").get_json()
    assert len(full["items"]) == 5
    # A common word's count may look at the newest requests first; when too few match there (here one), it counts
    # them all.
    monkeypatch.setattr(search, "PROBE_ROWS", 1)
    body = api_as("dispatcher").get("/api/v1/requests?q=漏水").get_json()
    assert (body["total"], body["total_capped"]) == (3, True)
    body = api_as("dispatcher").get("/api/v1/requests?q=漏水&status=locked").get_json()
    assert (body["total"], body["total_capped"], body["items"]) == (0, False, [])
    console = console_as("dispatcher")
    assert "超过 3 条" in console.get("/requests?q=漏水", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "More than 3" in console.get("/requests?q=漏水", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_two_characters_are_found_through_the_doubled_trigram_index(db, make_request, api_as):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no trigram index: it reads the rows")
    import sqlalchemy as sa

    from fieldservice.extensions import db as fsdb
    from fieldservice.requests.models import ServiceRequest
    from fieldservice.requests.search import Search

    leak = make_request(description="阀门漏水")
    make_request(description="阀门异响")
    # What the description tier asks, planned with the table's rows read only when nothing else serves.
    query = sa.select(ServiceRequest.id).where(Search.of("漏水").tiers()[-1])
    fsdb.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    sql = str(query.compile(fsdb.engine, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(fsdb.session.scalars(sa.text("EXPLAIN " + sql)))
    assert "ix_service_requests_description_doubled_trgm" in plan
    assert numbers(api_as("dispatcher").get("/api/v1/requests?q=漏水")) == [leak.number]


@pytest.mark.parametrize("customer_ids", [1000, 0], ids=["customers as ids", "customers as a subquery"])
def test_a_search_counts_its_customers_requests_first_then_every_match(
    db, make_request, make_customer, api_as, monkeypatch, customer_ids
):
    from fieldservice.requests import search

    monkeypatch.setattr(search, "CUSTOMER_IDS", customer_ids)
    for n in range(2):
        customer = make_customer(phone=f"021-555{n}0000")
        make_request(customer=customer)
        make_request(customer=customer)
    make_request(description="回电 021-5559999 联系")
    make_request(description="回电 021-5558888 联系")
    make_request(customer=make_customer(phone="010-12345678"))
    api = api_as("dispatcher")
    expected = {3: (3, True), 5: (5, True), 6: (6, False), 10: (6, False)}
    for cap, answer in expected.items():
        monkeypatch.setattr(search, "COUNT_CAP", cap)
        body = api.get("/api/v1/requests?q=021-555&per_page=10").get_json()
        assert (body["total"], body["total_capped"], len(body["items"])) == (*answer, 6), cap


def test_a_common_word_is_counted_on_the_newest_requests_first(db, make_request, monkeypatch):
    """The probe of capped_total: the newest requests (where the open ones are), counted up to the cap + 1; it is
    made only for a word the planner expects in many rows."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the probe is asked only on PostgreSQL (its planner's estimate decides)")
    import sqlalchemy as sa

    from fieldservice.core.search import contains_text
    from fieldservice.extensions import db as fsdb
    from fieldservice.requests import search
    from fieldservice.requests.models import ServiceRequest

    leaks = [make_request(description="冷凝器漏水") for _ in range(4)]
    make_request(description="面板损坏")
    described = contains_text("漏水", ServiceRequest.description)
    every = sa.select(ServiceRequest)
    assert fsdb.session.scalar(search.probe_statement(every, described, 2, 0)) == 3  # stops past the cap
    assert fsdb.session.scalar(search.probe_statement(every, described, 10, 0)) == 4
    narrowed = every.where(ServiceRequest.status == "locked")
    assert fsdb.session.scalar(search.probe_statement(narrowed, described, 10, 0)) == 0
    # Only the requests above the id.
    assert fsdb.session.scalar(search.probe_statement(every, described, 10, leaks[1].id)) == 2
    fsdb.session.execute(sa.text("ANALYZE service_requests"))
    monkeypatch.setattr(search, "PROBE_ROWS", 5)
    # 4 rows of 5 hold 漏水: more than 1.5 x 2 of the newest 5 are expected to; 面板 is in one.
    last = fsdb.session.scalar(sa.select(sa.func.max(ServiceRequest.id)))
    assert search._probe_from(search.Search.of("漏水"), 2) == last - 5
    assert search._probe_from(search.Search.of("面板"), 2) is None


def test_lists_counted_from_their_rows_stop_at_the_cap_and_kept_counts_do_not(
    db, make_request, make_customer, api_as, monkeypatch
):
    from fieldservice.requests import search

    monkeypatch.setattr(search, "COUNT_CAP", 2)
    customer = make_customer(zone="浦东")
    for _ in range(3):
        make_request(customer=customer, required_by=utcnow() + timedelta(hours=2))
    api = api_as("dispatcher")
    body = api.get("/api/v1/requests?zone=浦东&per_page=10").get_json()
    assert (body["total"], body["total_capped"], len(body["items"])) == (2, True, 3)
    body = api.get(f"/api/v1/requests?customer_id={customer.id}&per_page=2&page=2").get_json()
    assert (body["total"], body["total_capped"], len(body["items"])) == (2, True, 1)
    # By status alone on PostgreSQL: the kept counts, exact whatever their size (SQLite counts the rows).
    body = api.get("/api/v1/requests?status=awaiting_assignment").get_json()
    kept = db.engine.dialect.name == "postgresql"
    assert (body["total"], body["total_capped"]) == ((3, False) if kept else (2, True))


def test_search_text_is_only_ever_a_value(db, make_request, api_as):
    """Colons, quotes, percent signs and backslashes, of two characters too (a word of two characters or more asks
    the planner for an estimate): searched for as they are, never read as SQL or as a parameter's name."""
    marked = make_request(description="标签 :a 与 %' 及 \\' 处")
    api = api_as("dispatcher")
    for q in (":a", "%'", "\\'", ":1", "a:"):
        assert numbers(api.get("/api/v1/requests", query_string={"q": q})) == (
            [] if q in (":1", "a:") else [marked.number]
        )


def test_the_doubled_text_holds_a_text_exactly_where_the_text_does(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL searches the doubled text")
    import sqlalchemy as sa

    from fieldservice.core.search import doubled_contains

    texts = ["阀门漏水", "水漏", "aaa", "abab", "100%_满", "a\\b", "Ab\nCd", "漏 水"]
    queries = ["漏水", "aa", "ba", "bab", "%_", "\\b", "b\nc", "漏 水", "门漏水", "AB"]
    column = sa.column("t", sa.Text)
    for text in texts:
        for q in queries:
            found = db.session.scalar(
                sa.select(doubled_contains(q, column)).select_from(sa.select(sa.literal(text).label("t")).subquery())
            )
            assert found == (q.lower() in text.lower()), (text, q)


def test_a_search_pages_within_its_first_matches(db, make_request, api_as, console_as, monkeypatch):
    from fieldservice.requests import search

    monkeypatch.setattr(search, "WINDOW", 4)
    for _ in range(3):
        make_request(description="冷凝器漏水")
    api = api_as("dispatcher")
    assert len(api.get("/api/v1/requests?q=漏水&per_page=2&page=2").get_json()["items"]) == 1
    refused = api.get("/api/v1/requests?q=漏水&per_page=2&page=3")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"page": "Past the search's first 4 matches."}
    # Lists without a search page as far as they go.
    assert api.get("/api/v1/requests?per_page=2&page=3").status_code == 200
    console = console_as("dispatcher")
    moved = console.get("/requests?q=漏水&page=9", headers={"Accept-Language": "zh-CN"})
    assert moved.status_code == 302 and "page=" in moved.location
    page = console.get(moved.location, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "搜索只显示前 4 条结果" in page
