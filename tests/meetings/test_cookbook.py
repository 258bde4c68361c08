"""The seed cookbooks, followed verbatim against a real Daphne (the steps that need no bot)."""

from __future__ import annotations

from typing import Any

import httpx

from tests import processes
from tests.conftest import ADMIN_KEY


def test_an_integrator_follows_the_cookbooks_over_http(transactional_db: Any) -> None:
    with processes.daphne_server(env={"ADMIN_API_TOKEN": ADMIN_KEY}) as base:
        admin = httpx.Client(base_url=base, headers={"X-Admin-API-Key": ADMIN_KEY})
        user = admin.post(
            "/admin/users", json={"email": "user@example.com", "max_concurrent_bots": 3}
        ).json()
        token = admin.post(f"/admin/users/{user['id']}/tokens").json()["token"]
        api = httpx.Client(
            base_url=base, headers={"X-API-Key": token, "Content-Type": "application/json"}
        )

        # Start Transcription, step 1.
        created = api.post(
            "/bots",
            json={
                "platform": "google_meet",
                "native_meeting_id": "abc-defg-hij",
                "bot_name": "My Transcription Bot",
                "language": "en",
            },
        )
        assert created.status_code == 201
        meeting_id = created.json()["id"]
        processes.drop_queued_bot(meeting_id)
        assert created.json()["status"] == "requested"
        assert int(created.headers["X-RateLimit-Remaining"]) >= 0

        running = api.get("/bots/status").json()["running_bots"]
        assert [b["meeting_id"] for b in running] == [meeting_id]

        # Rename Meeting.
        renamed = api.patch(
            "/meetings/google_meet/abc-defg-hij",
            json={"data": {"name": "Team Standup - Q1 Planning"}},
        )
        assert renamed.json()["data"]["name"] == "Team Standup - Q1 Planning"

        # Get Status History, both ways.
        listed = api.get("/meetings").json()["meetings"]
        assert listed[0]["data"]["status_transition"][0]["to"] == "requested"
        transcript = api.get("/transcripts/google_meet/abc-defg-hij").json()
        assert transcript["segments"] == []
        assert transcript["data"]["status_transition"][0]["source"] == "user_api"

        # Share Transcript URL: the link is on PUBLIC_BASE_URL and readable without a key.
        share = api.post(
            f"/transcripts/google_meet/abc-defg-hij/share?meeting_id={meeting_id}&ttl_seconds=7200"
        ).json()
        assert share["url"].startswith(f"{base}/public/transcripts/")
        public = httpx.get(share["url"])
        assert public.status_code == 200
        assert public.headers["content-type"] == "text/plain; charset=utf-8"
        assert public.headers["cache-control"] == "no-store"
        assert public.headers["x-robots-tag"] == "noindex"
        assert public.text.startswith(
            "Meeting Transcript\n\nTitle: Team Standup - Q1 Planning\nDate: "
        )

        # Stop Bot: it never started, so the meeting completes at once.
        assert api.delete("/bots/google_meet/abc-defg-hij").status_code == 202
        stopped = api.get(f"/meetings/{meeting_id}").json()
        assert stopped["status"] == "completed"
        assert stopped["data"]["completion_reason"] == "stopped_before_admission"

        # Delete the data (safe to retry).
        for _ in range(2):
            assert api.delete("/meetings/google_meet/abc-defg-hij").status_code == 200
        assert httpx.get(share["url"]).status_code == 404
        assert httpx.get(f"{base}/openapi.json").status_code == 200
