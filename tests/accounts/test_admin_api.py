from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def test_it_creates_a_user_then_returns_the_existing_one(admin_api: APIClient) -> None:
    first = admin_api.post(
        "/admin/users", {"email": "Carol@Example.com", "name": "Carol"}, format="json"
    )
    assert first.status_code == 201
    again = admin_api.post("/admin/users", {"email": "carol@example.com"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_a_minted_token_works_until_revoked(admin_api: APIClient, alice: Any) -> None:
    minted = admin_api.post(f"/admin/users/{alice.pk}/tokens?scopes=bot,tx")
    assert minted.status_code == 201
    plain = minted.json()["token"]
    assert not ApiToken.objects.filter(token_hash=plain).exists()
    user_api = api_client(plain)
    assert user_api.put("/user/webhook", {"webhook_url": None}, format="json").status_code == 200
    assert admin_api.delete(f"/admin/tokens/{minted.json()['id']}").status_code == 204
    denied = user_api.put("/user/webhook", {"webhook_url": None}, format="json")
    assert denied.status_code == 401
    assert denied.json() == {"detail": "Invalid API key"}
