"""Vexa's own Python client (`vexa-client` on PyPI), unchanged, against a real Daphne.

The design promises that existing Vexa clients work unchanged: this drives every method of the
published client over HTTP, admin and user side, and checks what an integrator's code reads back.
"""

from __future__ import annotations

from typing import Any

import pytest
from vexa_client import VexaClient, VexaClientError

from meetings import lifecycle
from meetings.models import Meeting, MeetingStatus
from tests import processes
from tests.conftest import ADMIN_KEY
from tests.meetings.builders import add_segments, meeting_in

TEAMS_LINK = "https://teams.live.com/meet/9398850880426?p=RBZCWdxyp85TpcKna8"


def test_vexas_published_client_drives_the_product_unchanged(transactional_db: Any) -> None:
    with processes.daphne_server(env={"ADMIN_API_TOKEN": ADMIN_KEY}) as base:
        admin = VexaClient(base_url=base, admin_key=ADMIN_KEY)
        created = admin.create_user_and_set_id("ann@example.com", name="Ann", max_concurrent_bots=2)
        assert admin.user_id == created["id"]
        assert [u["email"] for u in admin.list_users(skip=0, limit=10)] == ["ann@example.com"]
        assert admin.update_user(created["id"], max_concurrent_bots=3)["max_concurrent_bots"] == 3
        assert admin.get_user_by_email("ann@example.com")["name"] == "Ann"
        client = VexaClient(base_url=base, api_key=admin.create_token()["token"])

        teams = client.request_bot_from_url(TEAMS_LINK, bot_name="Notes")
        assert (teams["platform"], teams["native_meeting_id"]) == ("teams", "9398850880426")
        assert teams["constructed_meeting_url"] == TEAMS_LINK
        meet = client.request_bot("google_meet", "abc-defg-hij", language="en", task="transcribe")
        assert meet["status"] == MeetingStatus.REQUESTED
        for queued in (teams, meet):
            processes.drop_queued_bot(queued["id"])
        running = {bot["meeting_id"] for bot in client.get_running_bots_status()}
        assert running == {teams["id"], meet["id"]}

        assert client.stop_bot("teams", "9398850880426")["message"]
        stopped = client.get_meeting_by_id("teams", "9398850880426")
        assert stopped is not None
        assert stopped["status"] == MeetingStatus.COMPLETED

        # A live bot (walked to active by the lifecycle, as its runtime would) is reconfigured.
        live = meeting_in(
            Meeting.objects.get(pk=meet["id"]).user,
            MeetingStatus.ACTIVE,
            native_meeting_id="xyz-wxyz-xyz",
        )
        add_segments(
            live, [(0.0, 2.5, "Bob", "Good morning everyone."), (3.0, 5.0, "Ann", "Hello Bob.")]
        )
        # The bundled model is English-only; the client shows the product's reason.
        with pytest.raises(VexaClientError, match=r"HTTP Error 422 .*English-only"):
            client.update_bot_config("google_meet", "xyz-wxyz-xyz", language="es")
        assert client.update_bot_config("google_meet", "xyz-wxyz-xyz", task="translate")["message"]
        live.refresh_from_db()
        assert live.bot_config["task"] == "translate"

        transcript = client.get_transcript("google_meet", "xyz-wxyz-xyz")
        assert [(s["speaker"], s["text"]) for s in transcript["segments"]] == [
            ("Bob", "Good morning everyone."),
            ("Ann", "Hello Bob."),
        ]
        renamed = client.update_meeting_data(
            "google_meet", "xyz-wxyz-xyz", name="Standup", participants=["Ann", "Bob"], notes="Q1"
        )
        assert VexaClient.get_meeting_participants(renamed) == ["Ann", "Bob"]
        assert client.get_meeting_by_id("google_meet", "xyz-wxyz-xyz")["data"]["name"] == "Standup"
        assert len(client.get_meetings()) == 3

        # The client surfaces the product's `detail` in its error.
        with pytest.raises(VexaClientError, match=r"HTTP Error 422 .*private"):
            client.set_webhook_url("http://127.0.0.1:9000/hook")
        client.set_webhook_url("https://8.8.8.8/hook")

        # Deleting a finished meeting's data keeps an anonymized stub without its text.
        with pytest.raises(VexaClientError, match=r"HTTP Error 409 .*stop the bot"):
            client.delete_meeting("google_meet", "xyz-wxyz-xyz")
        lifecycle.transition(
            meeting_id=live.pk,
            to=MeetingStatus.COMPLETED,
            source="bot_callback",
            completion_reason="meeting_ended",
        )
        assert "deleted" in client.delete_meeting("google_meet", "xyz-wxyz-xyz")["message"]
        assert client.get_transcript("google_meet", "xyz-wxyz-xyz")["segments"] == []

        # Another user's meetings do not exist for them.
        admin.create_user_and_set_id("bo@example.com")
        other = VexaClient(base_url=base, api_key=admin.create_token()["token"])
        with pytest.raises(VexaClientError, match="HTTP Error 404"):
            other.get_transcript("google_meet", "abc-defg-hij")
        with pytest.raises(VexaClientError, match="HTTP Error 404"):
            other.stop_bot("google_meet", "abc-defg-hij")
