"""OAuth for MCP clients: discovery, registration, consent in the dashboard, the code exchanged
with PKCE for a key that works at `/mcp`, and every way the exchange is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiToken, User
from mcp_server import services
from mcp_server.models import OAuthClient, OAuthGrant
from meetings import retention
from tests.conftest import api_client

pytestmark = pytest.mark.django_db
CALLBACK = "http://localhost:8976/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def register(name: str = "Claude", uris: Any = None, address: str | None = None) -> Any:
    body = {"client_name": name, "redirect_uris": [CALLBACK] if uris is None else uris}
    # Each from a fresh address unless told: registrations are limited per address.
    browser = Client(REMOTE_ADDR=address or f"test-{uuid.uuid4()}")
    return browser.post("/oauth/register", json.dumps(body), content_type="application/json")


def signed_in(key: str) -> Client:
    browser = Client()
    assert browser.post("/dashboard/login", {"api_key": key}).status_code == 302
    return browser


def authorize_query(client_id: str, challenge: str, **more: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st4te",
        **more,
    }


def back_at_client(response: Any) -> dict[str, str]:
    """The query the browser is sent back to the client with (asserted to go there)."""
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def consent(browser: Client, client_id: str, challenge: str, decision: str = "allow") -> Any:
    page = browser.get("/oauth/authorize", authorize_query(client_id, challenge))
    assert page.status_code == 200
    return browser.post(
        "/oauth/authorize", {**authorize_query(client_id, challenge), "decision": decision}
    )


def exchange(client_id: str, code: str, verifier: str, **more: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        **more,
    }
    return token_post(form)


def token_post(form: dict[str, str]) -> Any:
    """A token request as OAuth clients send it: form-encoded."""
    return Client().post(
        "/oauth/token", urlencode(form), content_type="application/x-www-form-urlencoded"
    )


def test_an_mcp_client_finds_the_authorization_server_from_the_401(alice_key: str) -> None:
    refused = Client().post("/mcp", "{}", content_type="application/json")
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    metadata_url = challenge.split('resource_metadata="')[1].rstrip('"')
    assert metadata_url == f"{settings.PUBLIC_BASE_URL}/.well-known/oauth-protected-resource/mcp"
    resource = Client().get(urlsplit(metadata_url).path).json()
    assert resource["resource"] == f"{settings.PUBLIC_BASE_URL}/mcp"
    [issuer] = resource["authorization_servers"]
    server = Client().get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == issuer
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["token_endpoint_auth_methods_supported"] == ["none"]
    for endpoint in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
        assert server[endpoint].startswith(issuer + "/oauth/")


def test_a_client_signs_in_a_user_who_consents_and_gets_a_key_for_mcp(
    alice: User, alice_key: str
) -> None:
    registered = register()
    assert registered.status_code == 201
    client_id = registered.json()["client_id"]
    verifier, challenge = pkce()
    browser = Client()
    query = authorize_query(client_id, challenge)
    # Not signed in: the dashboard's sign-in first, then back to the consent page.
    to_login = browser.get("/oauth/authorize", query)
    assert to_login.status_code == 302
    assert to_login["Location"].startswith("/dashboard/login?next=%2Foauth%2Fauthorize%3F")
    signed = browser.post(to_login["Location"], {"api_key": alice_key})
    assert signed.status_code == 302
    page = browser.get(signed["Location"]).content.decode()
    assert '<strong id="client-name">Claude</strong>' in page
    assert '<code id="redirect-host">localhost:8976</code>' in page
    assert "send bots to meetings" in page
    answer = back_at_client(
        browser.post("/oauth/authorize", {**query, "decision": "allow", "scope": "tx bot"})
    )
    assert answer["state"] == "st4te"
    assert answer["iss"] == settings.PUBLIC_BASE_URL
    token = exchange(client_id, answer["code"], verifier)
    assert token.status_code == 200
    assert token.headers["Cache-Control"] == "no-store"
    body = token.json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "tx bot")
    listed = Client().post(
        "/mcp",
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert "send_bot" in {tool["name"] for tool in listed.json()["result"]["tools"]}
    # The user sees the key among theirs, named after the assistant, and can revoke it.
    assert ApiToken.objects.filter(user=alice, name="MCP: Claude").count() == 1
    # A code is good once.
    again = exchange(client_id, answer["code"], verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_a_read_only_session_grants_a_read_only_key(alice: User) -> None:
    reader = account_services.token_issue(user=alice, scopes=["tx"]).plain
    client_id = register().json()["client_id"]
    verifier, challenge = pkce()
    answer = back_at_client(consent(signed_in(reader), client_id, challenge))
    assert exchange(client_id, answer["code"], verifier).json()["scope"] == "tx"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"code_verifier": "x" * 50}, "verifier"),
        ({"redirect_uri": "http://localhost:8976/other"}, "redirect"),
        ({"client_id": "someone-else"}, "client"),
        ({"code": "guessed"}, "code"),
    ],
)
def test_the_exchange_needs_the_verifier_redirect_client_and_code_of_the_consent(
    alice_key: str, change: dict[str, str], why: str
) -> None:
    client_id = register().json()["client_id"]
    verifier, challenge = pkce()
    code = back_at_client(consent(signed_in(alice_key), client_id, challenge))["code"]
    form = {"client_id": client_id, "code": code, "code_verifier": verifier, **change}
    refused = exchange(form.pop("client_id"), form.pop("code"), form.pop("code_verifier"), **form)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # What was refused did not use the code up.
    assert exchange(client_id, code, verifier).status_code == 200


def test_an_oauth_2_1_client_may_leave_the_redirect_uri_out_of_the_exchange(
    alice_key: str,
) -> None:
    client_id = register().json()["client_id"]
    verifier, challenge = pkce()
    code = back_at_client(consent(signed_in(alice_key), client_id, challenge))["code"]
    form = {"grant_type": "authorization_code", "client_id": client_id, "code": code}
    assert token_post({**form, "code_verifier": verifier}).status_code == 200


def test_an_expired_code_is_refused(alice_key: str) -> None:
    client_id = register().json()["client_id"]
    verifier, challenge = pkce()
    code = back_at_client(consent(signed_in(alice_key), client_id, challenge))["code"]
    OAuthGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert exchange(client_id, code, verifier).json()["error"] == "invalid_grant"
    assert not ApiToken.objects.filter(name__startswith="MCP:").exists()


def test_only_the_code_grant_is_served(alice_key: str) -> None:
    refused = token_post({"grant_type": "client_credentials"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "unsupported_grant_type"


def test_denying_sends_the_client_access_denied(alice_key: str) -> None:
    client_id = register().json()["client_id"]
    _, challenge = pkce()
    answer = back_at_client(consent(signed_in(alice_key), client_id, challenge, "deny"))
    assert answer["error"] == "access_denied"
    assert "code" not in answer
    assert not OAuthGrant.objects.exists()


def test_an_unknown_client_or_redirect_is_shown_an_error_not_redirected(alice_key: str) -> None:
    browser = signed_in(alice_key)
    _, challenge = pkce()
    unknown = browser.get("/oauth/authorize", authorize_query("nobody", challenge))
    assert unknown.status_code == 400
    assert b"not registered here" in unknown.content
    client_id = register().json()["client_id"]
    elsewhere = authorize_query(client_id, challenge, redirect_uri="https://evil.example/cb")
    refused = browser.get("/oauth/authorize", elsewhere)
    assert refused.status_code == 400
    assert b"redirect URI is not one this application registered" in refused.content


def test_pkce_is_required(alice_key: str) -> None:
    client_id = register().json()["client_id"]
    plain = authorize_query(client_id, "x" * 43, code_challenge_method="plain")
    answer = back_at_client(signed_in(alice_key).get("/oauth/authorize", plain))
    assert answer["error"] == "invalid_request"
    assert answer["state"] == "st4te"


def test_the_consent_is_csrf_protected(alice_key: str) -> None:
    client_id = register().json()["client_id"]
    _, challenge = pkce()
    browser = signed_in(alice_key)
    browser.handler.enforce_csrf_checks = True
    forged = browser.post(
        "/oauth/authorize", {**authorize_query(client_id, challenge), "decision": "allow"}
    )
    assert forged.status_code == 403
    assert not OAuthGrant.objects.exists()


@pytest.mark.parametrize(
    "uris",
    [
        ["http://example.com/callback"],  # plain http off this machine
        ["https://example.com/cb#frag"],
        ["not a url"],
        [],
        "https://example.com/cb",
    ],
)
def test_registration_refuses_redirects_that_could_leak_a_code(uris: Any) -> None:
    refused = register(uris=uris)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_redirect_uri"


def test_registration_accepts_https_and_loopback_redirects() -> None:
    uris = ["https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:33418/cb"]
    registered = register(name="  Claude\n  web ", uris=uris).json()
    assert registered["redirect_uris"] == uris
    assert registered["client_name"] == "Claude web"
    assert registered["token_endpoint_auth_method"] == "none"


def test_an_operator_sees_the_assistants_and_their_grants(
    admin_client: Client, alice_key: str
) -> None:
    client_id = register(name="Cursor").json()["client_id"]
    _, challenge = pkce()
    back_at_client(consent(signed_in(alice_key), client_id, challenge))
    clients = admin_client.get("/django-admin/mcp_server/oauthclient/").content.decode()
    assert "Cursor" in clients
    grants = admin_client.get("/django-admin/mcp_server/oauthgrant/").content.decode()
    assert "alice@example.com" in grants


def test_retention_drops_unused_registrations_and_old_consents_but_not_keys(
    alice: User,
) -> None:
    now = timezone.now()
    fresh = services.client_register(client_name="Fresh", redirect_uris=[CALLBACK])
    idle = services.client_register(client_name="Idle", redirect_uris=[CALLBACK])
    used = services.client_register(client_name="Used", redirect_uris=[CALLBACK])
    stale = services.client_register(client_name="Stale", redirect_uris=[CALLBACK])
    OAuthClient.objects.exclude(pk=fresh.pk).update(created_at=now - timedelta(days=2))
    for client in (used, stale):
        services.grant_create(
            client=client, user=alice, redirect_uri=CALLBACK, code_challenge="c" * 43, scopes=["tx"]
        )
    OAuthGrant.objects.filter(client=stale).update(expires_at=now - timedelta(days=91))
    key = account_services.token_issue(user=alice, scopes=["tx"], name="MCP: Stale")

    report = retention.retention_apply()

    assert (report.oauth_grants, report.oauth_clients) == (1, 2)
    assert sorted(OAuthClient.objects.values_list("client_name", flat=True)) == ["Fresh", "Used"]
    assert idle.pk not in OAuthClient.objects.values_list("pk", flat=True)
    assert ApiToken.objects.get(pk=key.token.pk).is_usable()


def test_registrations_are_limited_per_address() -> None:
    address = f"test-{uuid.uuid4()}"
    for _ in range(10):
        assert register(address=address).status_code == 201
    limited = register(address=address)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert OAuthClient.objects.count() == 10
    assert register().status_code == 201  # another address


@pytest.mark.django_db(transaction=True)
def test_racing_exchanges_of_one_code_get_one_key(alice: User, alice_key: str) -> None:
    client_id = register().json()["client_id"]
    verifier, challenge = pkce()
    code = back_at_client(consent(signed_in(alice_key), client_id, challenge))["code"]
    racers = 3
    barrier = threading.Barrier(racers)
    statuses = [0] * racers

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            statuses[index] = exchange(client_id, code, verifier).status_code
        finally:
            connection.close()  # each thread's own database connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 400, 400]
    assert ApiToken.objects.filter(user=alice, name="MCP: Claude").count() == 1


def test_connecting_an_assistant_again_revokes_the_key_it_had(alice: User, alice_key: str) -> None:
    def connect(client_id: str) -> str:
        verifier, challenge = pkce()
        code = back_at_client(consent(signed_in(alice_key), client_id, challenge))["code"]
        return str(exchange(client_id, code, verifier).json()["access_token"])

    claude, cursor = (register(name=n).json()["client_id"] for n in ("Claude", "Cursor"))
    first, other = connect(claude), connect(cursor)
    second = connect(claude)

    def works(key: str) -> bool:
        return api_client(key).get("/meetings").status_code == 200

    assert (works(first), works(second), works(other)) == (False, True, True)
    assert ApiToken.objects.filter(user=alice, name="MCP: Claude", revoked=False).count() == 1
