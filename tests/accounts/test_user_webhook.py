from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hooks/vexa"


def test_it_saves_a_public_webhook_url_and_masks_the_secret(
    alice_api: APIClient, alice: User
) -> None:
    response = alice_api.put(
        "/user/webhook", {"webhook_url": PUBLIC_URL, "webhook_secret": "s3cret"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["data"]["webhook_url"] == PUBLIC_URL
    assert response.json()["data"]["webhook_secret"] == "***"
    alice.refresh_from_db()
    assert alice.data["webhook_url"] == PUBLIC_URL


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "ftp://93.184.216.34/hook",
        "http://user:pw@93.184.216.34/hook",
    ],
)
def test_it_refuses_urls_that_reach_private_networks(
    alice_api: APIClient, alice: User, url: str
) -> None:
    alice.data = {"webhook_url": PUBLIC_URL}
    alice.save()
    response = alice_api.put("/user/webhook", {"webhook_url": url}, format="json")
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], (str, list))
    alice.refresh_from_db()
    assert alice.data["webhook_url"] == PUBLIC_URL


def test_local_development_may_allow_private_urls(alice_api: APIClient, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    response = alice_api.put(
        "/user/webhook", {"webhook_url": "http://127.0.0.1:9000/hook"}, format="json"
    )
    assert response.status_code == 200


def test_null_clears_the_webhook(alice_api: APIClient, alice: User) -> None:
    alice.data = {"webhook_url": PUBLIC_URL, "other": 1}
    alice.save()
    assert alice_api.put("/user/webhook", {"webhook_url": None}, format="json").status_code == 200
    alice.refresh_from_db()
    assert alice.data == {"other": 1}
