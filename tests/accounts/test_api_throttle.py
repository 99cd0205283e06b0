"""The API answers 429 to a caller over its rate, anonymous or signed in."""

import pytest
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


@pytest.fixture
def low_rates(monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "5/minute"})
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "5/minute"})


def test_a_signed_in_caller_is_throttled_per_person(low_rates, personas, client_for):
    client = client_for(personas["owner"])
    statuses = [client.get("/api/v1/controls/").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    assert "Retry-After" in client.get("/api/v1/controls/")
    # Somebody else is not slowed down by it.
    assert client_for(personas["other_team"]).get("/api/v1/controls/").status_code == 200


def test_the_shipped_rates(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {"anon": "30/minute", "user": "1200/minute"}
