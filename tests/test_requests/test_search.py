"""The request list's search box (`q`): number, customer name and phone, description (Chinese too), ranked."""

from datetime import timedelta

from fieldservice.core.models import utcnow


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["number"] for item in response.get_json()["items"]]


def test_results_are_ranked_number_then_starts_then_contains_then_description(
    db, make_request, make_customer, api_as
):
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
