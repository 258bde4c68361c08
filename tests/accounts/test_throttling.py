from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import api_client
from tests.meetings.builders import cookbook_standup

pytestmark = pytest.mark.django_db


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_each_response_tells_the_remaining_budget_of_the_key(alice_api: APIClient) -> None:
    remaining = []
    for _ in range(3):
        response = alice_api.get("/meetings")
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "3"
        remaining.append(response["X-RateLimit-Remaining"])
        reset = int(response["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 61
    assert remaining == ["2", "1", "0"]


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_a_key_over_its_limit_gets_429_with_retry_after(
    alice_api: APIClient, bob_api: APIClient
) -> None:
    for _ in range(3):
        assert alice_api.get("/bots/status").status_code == 200
    limited = alice_api.post("/bots", {"platform": "zoom", "native_meeting_id": "123456789"})
    assert limited.status_code == 429
    assert limited.json()["detail"].startswith("Request was throttled")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["X-RateLimit-Remaining"] == "0"
    # Counted per key: bob's budget is untouched.
    assert bob_api.get("/meetings")["X-RateLimit-Remaining"] == "2"


@override_settings(API_RATE_LIMIT_PER_MINUTE=0)
def test_zero_means_no_limit_and_no_headers(alice_api: APIClient) -> None:
    for _ in range(5):
        response = alice_api.get("/meetings")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response


@override_settings(API_RATE_LIMIT_PER_MINUTE=2)
def test_public_share_text_is_limited_per_client_address(alice: User, alice_api: APIClient) -> None:
    cookbook_standup(alice)
    url = alice_api.post("/transcripts/google_meet/abc-defg-hij/share").json()["url"]
    path = urlsplit(url).path
    # Fresh addresses: a counter left by an earlier run within the minute cannot interfere.
    address, other_address = f"test-{uuid.uuid4()}", f"test-{uuid.uuid4()}"
    reader = api_client()
    codes = [reader.get(path, REMOTE_ADDR=address).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert api_client().get(path, REMOTE_ADDR=other_address).status_code == 200
