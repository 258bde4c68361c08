from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, User, hash_token
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def test_it_creates_a_user_then_returns_the_existing_one(admin_api: APIClient) -> None:
    first = admin_api.post(
        "/admin/users",
        {"email": "Carol@Example.com", "name": "Carol", "max_concurrent_bots": 3},
        format="json",
    )
    assert first.status_code == 201
    body = first.json()
    assert body["email"] == "carol@example.com"
    assert body["name"] == "Carol"
    assert body["max_concurrent_bots"] == 3
    assert set(body) >= {"id", "email", "name", "image_url", "max_concurrent_bots", "created_at"}
    again = admin_api.post("/admin/users", {"email": "carol@example.com"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert User.objects.filter(email="carol@example.com").count() == 1


def test_creating_a_user_without_email_is_a_422_field_error(admin_api: APIClient) -> None:
    response = admin_api.post("/admin/users", {"name": "Nobody"}, format="json")
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert isinstance(errors, list)
    assert errors[0]["loc"] == ["body", "email"]


def test_it_lists_users_with_skip_and_limit(admin_api: APIClient, alice: User, bob: User) -> None:
    everyone = admin_api.get("/admin/users").json()
    assert [u["email"] for u in everyone] == ["alice@example.com", "bob@example.com"]
    page = admin_api.get("/admin/users?skip=1&limit=1").json()
    assert [u["email"] for u in page] == ["bob@example.com"]
    assert admin_api.get("/admin/users?limit=0").status_code == 422


def test_numbers_postgresql_cannot_take_are_422s_that_change_nothing(
    admin_api: APIClient, alice: User
) -> None:
    before = alice.max_concurrent_bots
    too_many = {"max_concurrent_bots": 2**31}  # PostgreSQL's integer ends at 2**31 - 1
    patched = admin_api.patch(f"/admin/users/{alice.pk}", too_many, format="json")
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["loc"] == ["body", "max_concurrent_bots"]
    alice.refresh_from_db()
    assert alice.max_concurrent_bots == before
    created = admin_api.post(
        "/admin/users", {"email": "dan@example.com", **too_many}, format="json"
    )
    assert created.status_code == 422
    assert not User.objects.filter(email="dan@example.com").exists()
    assert admin_api.get(f"/admin/users?skip={2**63}").status_code == 422  # past OFFSET's bigint
    assert admin_api.get(f"/admin/users?skip={2**63 - 1}").json() == []
    most = admin_api.patch(
        f"/admin/users/{alice.pk}", {"max_concurrent_bots": 2**31 - 1}, format="json"
    )
    assert most.json()["max_concurrent_bots"] == 2**31 - 1


def test_text_longer_than_its_column_is_a_422_that_changes_nothing(
    admin_api: APIClient, alice: User
) -> None:
    long_email = "a" * 300 + "@example.com"
    created = admin_api.post("/admin/users", {"email": long_email}, format="json")
    assert created.status_code == 422
    assert created.json()["detail"][0]["loc"] == ["body", "email"]
    assert not User.objects.filter(email=long_email).exists()
    long_url = "https://example.com/" + "a" * 1100
    for response in (
        admin_api.post(
            "/admin/users", {"email": "dan@example.com", "image_url": long_url}, format="json"
        ),
        admin_api.patch(f"/admin/users/{alice.pk}", {"image_url": long_url}, format="json"),
    ):
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "image_url"]
    assert not User.objects.filter(email="dan@example.com").exists()
    alice.refresh_from_db()
    assert alice.image_url != long_url


def test_a_user_shows_its_tokens_masked(admin_api: APIClient, alice: User, alice_key: str) -> None:
    body = admin_api.get(f"/admin/users/{alice.pk}").json()
    assert body["email"] == "alice@example.com"
    [token] = body["api_tokens"]
    assert token["token"] != alice_key
    assert alice_key not in str(body)
    assert token["token"].endswith("…")
    assert token["scopes"] == ["bot", "tx"]
    assert token["user_id"] == alice.pk


def test_a_user_is_found_by_email(admin_api: APIClient, alice: User) -> None:
    assert admin_api.get("/admin/users/email/ALICE@example.com").json()["id"] == alice.pk
    missing = admin_api.get("/admin/users/email/nobody@example.com")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "User not found"}


def test_patch_updates_fields_and_merges_data(admin_api: APIClient, alice: User) -> None:
    alice.data = {"webhook_url": "https://hooks.example.com/x", "theme": "dark"}
    alice.save()
    response = admin_api.patch(
        f"/admin/users/{alice.pk}",
        {"name": "Alice A.", "max_concurrent_bots": 5, "data": {"theme": "light"}},
        format="json",
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.name == "Alice A."
    assert alice.max_concurrent_bots == 5
    assert alice.data == {"webhook_url": "https://hooks.example.com/x", "theme": "light"}


def test_unknown_user_is_a_404_on_every_admin_user_route(admin_api: APIClient) -> None:
    for response in (
        admin_api.get("/admin/users/999999"),
        admin_api.patch("/admin/users/999999", {"name": "x"}, format="json"),
        admin_api.post("/admin/users/999999/tokens"),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "User not found"}


def test_a_minted_token_is_shown_once_and_stored_only_hashed(
    admin_api: APIClient, alice: User
) -> None:
    minted = admin_api.post(f"/admin/users/{alice.pk}/tokens?name=ci")
    assert minted.status_code == 201
    body = minted.json()
    plain = body["token"]
    assert plain.startswith("vex_")
    assert len(plain) > 40
    assert body["scopes"] == ["bot", "tx"]
    assert body["name"] == "ci"
    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.token_hash == hash_token(plain)
    # No column of any table holds the plain value.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert plain not in str(cursor.fetchall())
    assert plain not in str(admin_api.get(f"/admin/users/{alice.pk}").json())


def test_token_scopes_come_from_query_or_body(admin_api: APIClient, alice: User) -> None:
    by_query = admin_api.post(f"/admin/users/{alice.pk}/tokens?scopes=tx,browser")
    assert by_query.json()["scopes"] == ["browser", "tx"]
    by_body = admin_api.post(f"/admin/users/{alice.pk}/tokens", {"scopes": ["bot"]}, format="json")
    assert by_body.json()["scopes"] == ["bot"]


def test_an_invalid_scope_is_a_422_naming_it(admin_api: APIClient, alice: User) -> None:
    response = admin_api.post(f"/admin/users/{alice.pk}/tokens?scopes=bot,foo")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Invalid scope(s): ['foo']. Valid: ['bot', 'browser', 'tx']"
    }
    assert not ApiToken.objects.filter(user=alice).exists()


def test_a_minted_token_works_until_revoked(admin_api: APIClient, alice: User) -> None:
    minted = admin_api.post(f"/admin/users/{alice.pk}/tokens?scopes=bot,tx")
    plain = minted.json()["token"]
    user_api = api_client(plain)
    assert user_api.put("/user/webhook", {"webhook_url": None}, format="json").status_code == 200
    assert admin_api.delete(f"/admin/tokens/{minted.json()['id']}").status_code == 204
    denied = user_api.put("/user/webhook", {"webhook_url": None}, format="json")
    assert denied.status_code == 401
    assert denied.json() == {"detail": "Invalid API key"}
    # Revoking again is harmless; an unknown token is a 404.
    assert admin_api.delete(f"/admin/tokens/{minted.json()['id']}").status_code == 204
    assert admin_api.delete("/admin/tokens/999999").status_code == 404


@pytest.mark.parametrize("header", [None, "wrong-admin-key-0123456789"])
def test_admin_routes_refuse_a_missing_or_wrong_admin_key(
    header: str | None, alice: User, alice_key: str
) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_X_ADMIN_API_KEY=header)
    for response in (
        client.get("/admin/users"),
        client.post("/admin/users", {"email": "x@example.com"}, format="json"),
        client.get(f"/admin/users/{alice.pk}"),
        client.get("/admin/users/email/alice@example.com"),
        client.patch(f"/admin/users/{alice.pk}", {"name": "x"}, format="json"),
        client.post(f"/admin/users/{alice.pk}/tokens"),
        client.delete("/admin/tokens/1"),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "Invalid or missing admin token."}
    assert not User.objects.filter(email="x@example.com").exists()


def test_a_user_key_is_not_an_admin_key(alice_key: str) -> None:
    client = APIClient()
    client.credentials(HTTP_X_ADMIN_API_KEY=alice_key, HTTP_X_API_KEY=alice_key)
    assert client.get("/admin/users").status_code == 403


def test_admin_api_is_closed_when_no_admin_token_is_configured(
    settings: Any, admin_api: APIClient
) -> None:
    settings.ADMIN_API_TOKEN = ""
    assert admin_api.get("/admin/users").status_code == 403


def test_an_expired_token_is_refused(alice: User, admin_api: APIClient) -> None:
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    minted = admin_api.post(f"/admin/users/{alice.pk}/tokens", {"expires_at": past}, format="json")
    response = api_client(minted.json()["token"]).put(
        "/user/webhook", {"webhook_url": None}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}
