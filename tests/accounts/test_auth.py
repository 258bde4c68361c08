from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken, User
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def test_a_request_without_a_key_is_a_401_missing_api_key() -> None:
    response = APIClient().get("/meetings")
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing API key"}


def test_an_unknown_key_is_a_401_invalid_api_key() -> None:
    response = api_client("vex_not-a-real-key").get("/meetings")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}


def test_the_query_string_key_is_not_accepted_on_plain_endpoints(alice_key: str) -> None:
    response = APIClient().get(f"/meetings?api_key={alice_key}")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("scopes", "path", "allowed"),
    [
        (["tx"], "/bots/status", False),
        (["bot"], "/bots/status", True),
        (["bot"], "/meetings", False),
        (["tx"], "/meetings", True),
        (["browser"], "/meetings", False),
    ],
)
def test_each_endpoint_checks_the_token_scope(
    alice: User, scopes: list[str], path: str, allowed: bool
) -> None:
    key = services.token_issue(user=alice, scopes=scopes).plain
    response = api_client(key).get(path)
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.json() == {"detail": "Token scope not authorized for this endpoint"}


def test_using_a_key_records_when_it_was_last_used(alice: User) -> None:
    issued = services.token_issue(user=alice, scopes=["tx"])
    assert issued.token.last_used_at is None
    api_client(issued.plain).get("/meetings")
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at is not None


def test_a_deactivated_user_cannot_use_its_keys(alice: User, alice_key: str) -> None:
    alice.is_active = False
    alice.save()
    assert api_client(alice_key).get("/meetings").status_code == 401
