import pytest


@pytest.fixture
def complaint_body(make_customer):
    def make(**kw):
        customer = make_customer()
        body = {
            "channel": "phone",
            "kind": "attitude",
            "severity": "high",
            "summary": "工程师态度差",
            "description": "客户反映上门工程师说话不耐烦，未清理现场",
            "customer_id": customer.id,
        }
        body.update(kw)
        return body

    return make
