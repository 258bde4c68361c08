from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiToken, User
from meetings.models import Meeting, MeetingStatus
from tests.meetings.builders import meeting_in
from vexa_site.input_guard import NUL_MESSAGE
from webhooks import services as webhook_services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_unknown_api_routes_are_json_404s() -> None:
    response = APIClient().get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_malformed_json_is_a_422_not_a_500(admin_api: APIClient) -> None:
    response = admin_api.generic(
        "POST", "/admin/users", "{not json", content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_a_body_too_large_is_a_json_413_that_stores_nothing(alice_api: APIClient) -> None:
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000):
        response = alice_api.post(
            "/bots",
            {
                "platform": "google_meet",
                "native_meeting_id": "abc-defg-hij",
                "data": {"notes": "x" * 20_000},
            },
            format="json",
        )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large (at most 10000 bytes)"}
    assert not Meeting.objects.exists()


def test_a_request_django_refuses_before_any_view_is_a_json_400() -> None:
    response = Client().get("/healthz", headers={"host": "bad host name"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request"}


def test_the_openapi_schema_and_docs_are_served() -> None:
    schema = APIClient().get("/openapi.json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/admin/users" in paths
    assert "/admin/users/{user_id}/tokens" in paths
    assert "/user/webhook" in paths
    docs = APIClient().get("/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_the_openapi_document_builds_without_warnings(tmp_path: Path) -> None:
    # A warning is a part of the API the document describes wrongly (an unknown
    # authentication, two schemes of one name): clients generated from it would be wrong.
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "openapi.yaml"))


def test_a_nul_in_a_path_or_query_is_a_422_naming_where(alice_api: APIClient) -> None:
    # PostgreSQL cannot hold U+0000: before the check these were 500s from the first query.
    in_path = alice_api.get("/transcripts/google_meet/abc%00def")
    in_query = alice_api.get("/recordings", {"platform": "google_meet", "native_meeting_id": "\0"})
    in_admin_path = APIClient().get("/admin/users/email/a%00b")

    assert in_path.status_code == 422
    assert in_path.json()["detail"] == [
        {"loc": ["path"], "msg": NUL_MESSAGE, "type": "value_error.nul"}
    ]
    assert in_query.status_code == 422
    assert in_query.json()["detail"][0]["loc"] == ["query", "native_meeting_id"]
    assert in_admin_path.status_code == 422


def test_a_nul_nested_in_a_json_body_is_a_422_and_changes_nothing(
    alice: User, alice_api: APIClient
) -> None:
    meeting = meeting_in(alice, MeetingStatus.COMPLETED)
    before = dict(meeting.data)

    response = alice_api.patch(
        "/meetings/google_meet/abc-defg-hij",
        {"data": {"name": "Weekly", "participants": ["Ann", "B\0b"]}},
        format="json",
    )

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body"],
            "msg": f"data.participants.1 {NUL_MESSAGE}",
            "type": "value_error.json",
        }
    ]
    meeting.refresh_from_db()
    assert meeting.data == before


def test_json_nested_too_deep_is_a_422_not_a_recursion_error(alice_api: APIClient) -> None:
    # Python's decoder recurses once per level: thousands of `[` used to be a 500.
    runaway = "[" * 50_000 + "]" * 50_000
    deep_metadata = (
        '{"platform": "google_meet", "native_meeting_id": "abc-defg-hij", "metadata": '
        + '{"a": ' * 40
        + "1"
        + "}" * 40
        + "}"
    )

    for body in (runaway, deep_metadata):
        response = alice_api.generic("POST", "/bots", body, content_type="application/json")
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {
                "loc": ["body"],
                "msg": "JSON nested deeper than 32 levels",
                "type": "value_error.json",
            }
        ]
    assert not Meeting.objects.exists()


def _user_form(alice: User) -> tuple[str, str, dict[str, str]]:
    return (
        f"/django-admin/accounts/user/{alice.pk}/change/",
        "data",
        {
            "email": alice.email,
            "name": "Alice",
            "max_concurrent_bots": "0",
            "is_active": "on",
            "data": '{"team": "a\\u0000b"}',
            "tokens-TOTAL_FORMS": "0",
            "tokens-INITIAL_FORMS": "0",
        },
    )


def _token_form(alice: User) -> tuple[str, str, dict[str, str]]:
    token = account_services.token_issue(user=alice, scopes=["bot"]).token
    return (
        f"/django-admin/accounts/apitoken/{token.pk}/change/",
        "scopes",
        {
            "name": "ci",
            "scopes": '["bot\\u0000"]',
        },
    )


def _endpoint_form(alice: User) -> tuple[str, str, dict[str, str]]:
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        endpoint = webhook_services.endpoint_create(
            user=alice, url="http://127.0.0.1:9/hook", event_types=["meeting.completed"]
        )
    return (
        f"/django-admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        "event_types",
        {
            "url": endpoint.url,
            "event_types": '["meeting.completed\\u0000"]',
            "enabled": "on",
        },
    )


@pytest.mark.parametrize(
    ("form_for", "message"),
    [
        (_user_form, NUL_MESSAGE),
        (_token_form, NUL_MESSAGE),
        # The endpoint form's own check names the bad event type first.
        (_endpoint_form, "Unknown event type"),
    ],
)
def test_an_operator_saving_a_nul_in_json_gets_a_form_error_and_nothing_changes(
    client: Client,
    alice: User,
    form_for: Callable[[User], tuple[str, str, dict[str, str]]],
    message: str,
) -> None:
    staff = User.objects.create_superuser("ops@example.com", password="x-very-long-password")
    client.force_login(staff)
    path, field, form = form_for(alice)
    before = _stored_json()
    response = client.post(path, form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field]), errors
    assert _stored_json() == before


def _stored_json() -> list[object]:
    return [
        *User.objects.order_by("pk").values_list("data", flat=True),
        *ApiToken.objects.order_by("pk").values_list("scopes", flat=True),
        *WebhookEndpoint.objects.order_by("pk").values_list("event_types", flat=True),
    ]
