from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import api_client
from tests.meetings.builders import cookbook_standup as standup
from tests.meetings.builders import meeting_in
from transcripts.models import ShareLink

pytestmark = pytest.mark.django_db
URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SHARE = "/transcripts/google_meet/abc-defg-hij/share"
COOKBOOK_TEXT = (
    "Meeting Transcript\n"
    "\n"
    "Title: Team Standup\n"
    "Date: 2024-01-01 12:00:00\n"
    "\n"
    "[00:00:00] Alice: Hello everyone, welcome to today's meeting.\n"
    "[00:00:05] Bob: Thanks for joining. Let's start with updates.\n"
    "[00:00:10] Alice: I've completed the feature implementation.\n"
    "[00:00:15] Bob: Great! What about the testing?\n"
)


def public_path(url: str) -> str:
    return urlsplit(url).path


@override_settings(PUBLIC_BASE_URL="https://vexa.example.com")
def test_the_seed_share_response_has_id_url_and_expiry(alice: User, alice_api: APIClient) -> None:
    meeting = standup(alice)
    before = timezone.now()
    response = alice_api.post(f"{SHARE}?meeting_id={meeting.pk}&ttl_seconds=7200")
    assert response.status_code == 200
    got = response.json()
    assert set(got) == {"share_id", "url", "expires_at", "expires_in_seconds"}
    assert got["url"] == f"https://vexa.example.com/public/transcripts/{got['share_id']}.txt"
    assert got["expires_in_seconds"] == 7200
    expires_at = parse_datetime(got["expires_at"])
    assert expires_at is not None
    assert timedelta(seconds=7199) < expires_at - before < timedelta(seconds=7201)
    default = alice_api.post(SHARE).json()
    assert default["expires_in_seconds"] == 3600


def test_share_ids_carry_at_least_128_random_bits(alice: User, alice_api: APIClient) -> None:
    standup(alice)
    ids = {alice_api.post(SHARE).json()["share_id"] for _ in range(20)}
    assert len(ids) == 20
    # URL-safe base64 from `secrets`: 6 random bits per character.
    assert all(len(share_id) * 6 >= 128 for share_id in ids)
    assert all(set(share_id) <= set(URLSAFE) for share_id in ids)


def test_the_public_text_is_the_cookbook_layout_without_auth(
    alice: User, alice_api: APIClient
) -> None:
    standup(alice)
    share = alice_api.post(SHARE).json()
    anonymous = api_client()
    response = anonymous.get(public_path(share["url"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Robots-Tag"] == "noindex"
    assert response.content.decode() == COOKBOOK_TEXT
    as_text = anonymous.get(public_path(share["url"]), HTTP_ACCEPT="text/plain")
    assert as_text.status_code == 200
    # A stray or bad API key on a public page changes nothing.
    assert api_client("not-a-key").get(public_path(share["url"])).status_code == 200


def test_an_expired_share_is_a_404(alice: User, alice_api: APIClient) -> None:
    standup(alice)
    share = alice_api.post(f"{SHARE}?ttl_seconds=60").json()
    path = public_path(share["url"])
    assert api_client().get(path).status_code == 200
    # The link's minute is over (moved in the database rather than waiting it out).
    ShareLink.objects.filter(share_id=share["share_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = api_client().get(path)
    assert expired.status_code == 404
    assert expired.json() == {"detail": "Share link not found or expired"}
    assert expired["Cache-Control"] == "no-store"
    assert expired["X-Robots-Tag"] == "noindex"


def test_an_unknown_share_id_is_a_404() -> None:
    assert api_client().get("/public/transcripts/" + "A" * 32 + ".txt").status_code == 404
    assert api_client().get("/public/transcripts/..%2Fetc.txt").status_code == 404


def test_revoking_shares_makes_them_404_at_once(alice: User, alice_api: APIClient) -> None:
    standup(alice)
    first = alice_api.post(SHARE).json()
    second = alice_api.post(SHARE).json()
    one = alice_api.delete(f"{SHARE}?share_id={first['share_id']}")
    assert one.status_code == 200
    assert one.json() == {"revoked": 1}
    assert api_client().get(public_path(first["url"])).status_code == 404
    assert api_client().get(public_path(second["url"])).status_code == 200
    everything = alice_api.delete(SHARE)
    assert everything.json() == {"revoked": 1}
    assert api_client().get(public_path(second["url"])).status_code == 404
    assert alice_api.delete(SHARE).json() == {"revoked": 0}


def test_share_ttl_is_bounded(alice: User, alice_api: APIClient) -> None:
    standup(alice)
    assert alice_api.post(f"{SHARE}?ttl_seconds=10").status_code == 422
    with override_settings(SHARE_LINK_MAX_TTL_S=3600):
        too_long = alice_api.post(f"{SHARE}?ttl_seconds=7200")
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["query", "ttl_seconds"]


def test_a_share_id_of_another_meeting_cannot_be_revoked_through_mine(
    alice: User, bob: User, alice_api: APIClient, bob_api: APIClient
) -> None:
    standup(alice)
    alices = alice_api.post(SHARE).json()
    meeting_in(bob, "completed")
    response = bob_api.delete(f"{SHARE}?share_id={alices['share_id']}")
    assert response.status_code == 404
    assert api_client().get(public_path(alices["url"])).status_code == 200


def test_a_deleted_meeting_cannot_be_shared(alice: User, alice_api: APIClient) -> None:
    standup(alice)
    assert alice_api.delete("/meetings/google_meet/abc-defg-hij").status_code == 200
    response = alice_api.post(SHARE)
    assert response.status_code == 409
