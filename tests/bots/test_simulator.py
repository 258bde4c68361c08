"""The meeting simulator's scenarios, live state and HTTP surface (no browser here)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from bots.simulator import scenarios
from tests.bots.conftest import Speech, meet_id
from tests.conftest import ADMIN_KEY
from vexa_site.errors import InvalidInput


@pytest.fixture
def host_api() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_ADMIN_API_KEY=ADMIN_KEY)
    return client


def load(native: str, **fields: Any) -> scenarios.MeetingState:
    return scenarios.scenario_load(
        scenarios.scenario_parse({"native_meeting_id": native, **fields})
    )


def test_a_scenario_groups_turns_by_participant_and_reads_wav_durations(speech: Speech) -> None:
    scenario = scenarios.scenario_parse(
        {
            "native_meeting_id": "abc-defg-hij",
            "participants": [
                {"name": "Alice", "audio": str(speech.alice), "at_s": [4, 1]},
                {"name": "Bob", "audio": str(speech.bob), "at_s": 2, "leave_at_s": 9},
                {"name": "Alice", "audio": str(speech.bob), "at_s": 7},
            ],
        }
    )

    alice, bob = scenario.participants
    assert [t.at_s for t in alice.turns] == [1.0, 4.0, 7.0]
    assert alice.turns[0].duration_s == pytest.approx(
        Path(speech.alice).stat().st_size / 32000, abs=0.01
    )
    assert bob.leave_at_s == 9.0
    assert alice.participant_id != bob.participant_id
    assert scenarios.Scenario.from_dict(scenario.as_dict()) == scenario


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"variant": "sometimes"}, "variant"),
        ({"admit": "maybe"}, "admit"),
        ({"participants": [{"name": "A", "audio": "/no/such.wav"}]}, "not found"),
        ({"participants": [{"name": "A", "audio": "../../etc/passwd"}]}, "outside"),
        ({"end_after_s": -1}, "end_after_s"),
        ({"platform": "skype"}, "platform"),
        ({"platform": "teams", "continue_step": "yes"}, "continue_step"),
        ({"participants": [{"name": "A", "chat": "hi"}]}, r"participants\[0\]\.chat must be"),
        ({"participants": [{"name": "A", "chat": [{"text": " "}]}]}, r"chat\[0\]\.text"),
        ({"participants": [{"name": "A", "chat": [{"text": "x", "at_s": -1}]}]}, "at_s"),
    ],
)
def test_a_bad_scenario_is_refused_with_the_field_named(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        scenarios.scenario_parse({"native_meeting_id": "abc-defg-hij", **fields})


def test_relative_audio_paths_are_read_from_the_media_folder(speech: Speech) -> None:
    with override_settings(SIMULATOR_MEDIA_DIR=speech.folder):
        scenario = scenarios.scenario_parse(
            {
                "native_meeting_id": "abc-defg-hij",
                "participants": [{"name": "A", "audio": "bob.wav"}],
            }
        )
    assert scenario.participants[0].turns[0].audio == str(speech.bob.resolve())


def test_the_clock_admits_ends_and_removes_counting_from_the_admission() -> None:
    state = scenarios.MeetingState(
        scenario=scenarios.scenario_parse(
            {
                "native_meeting_id": "abc-defg-hij",
                "admit_after_s": 2,
                "end_after_s": 10,
                "remove_bot_after_s": 5,
                "participants": [{"name": "Alice", "join_at_s": 1, "leave_at_s": 3}],
            }
        ),
        loaded_at=0.0,
    )
    state.guests["g"] = scenarios.Guest(guest_id="g", name="Bot", state="waiting", joined_at=100.0)

    state.advance(101.0)
    assert state.guests["g"].state == "waiting"
    state.advance(102.1)
    assert state.guests["g"].state == "admitted"
    # The clock starts once the bot's page has its media connection up.
    assert state.started_at is None
    state.guests["g"].media_ready_at = 102.5
    state.advance(102.6)
    assert state.started_at == 102.5
    assert state.present(103.0) == []
    assert [p.name for p in state.present(104.0)] == ["Alice"]
    assert state.present(106.0) == []
    state.advance(107.5)
    assert state.guests["g"].state == "removed"
    state.advance(112.5)
    assert state.ended_at == 112.5


@pytest.mark.parametrize(("platform", "whole_chat"), [("google_meet", False), ("teams", True)])
def test_a_guest_sees_the_chat_as_the_platform_shows_it(platform: str, whole_chat: bool) -> None:
    """Scripted lines appear when due; Teams shows a guest let in later the whole chat, Meet
    only what was posted after."""
    native = "1234567890" if platform == "teams" else "abc-defg-hij"
    scenario = scenarios.scenario_parse(
        {
            "platform": platform,
            "native_meeting_id": native,
            "participants": [{"name": "Alice", "chat": [{"at_s": 5, "text": "Agenda"}]}],
        }
    )
    state = scenarios.MeetingState(scenario=scenario, loaded_at=0.0)
    first = scenarios.Guest(guest_id="a", name="Bot", state="admitted", joined_at=99.0)
    first.decided_at = first.media_ready_at = 100.0
    state.guests["a"] = first
    state.advance(100.0)
    state.chat.append({"id": "g0", "guest_id": "a", "sender": "Bot", "text": "Hi", "at": 101.0})

    assert [m["text"] for m in state.chat_shown(104.0, first)] == ["Hi"]
    assert [m["text"] for m in state.chat_shown(105.0, first)] == ["Hi", "Agenda"]
    later = scenarios.Guest(guest_id="b", name="Bot 2", state="admitted", joined_at=102.0)
    later.decided_at = 102.0
    shown = [m["text"] for m in state.chat_shown(105.0, later)]
    assert shown == (["Hi", "Agenda"] if whole_chat else ["Agenda"])
    assert state.chat_shown(105.0)[1] == {
        "id": "p0-0",
        "sender": "Alice",
        "text": "Agenda",
        "at": 105.0,
    }


def test_the_host_admits_denies_removes_and_ends(host_api: APIClient) -> None:
    native = meet_id()
    load(native, admit="manual")
    first = scenarios.guest_join("google_meet", native, name="Bot one")[1]
    second = scenarios.guest_join("google_meet", native, name="Bot two")[1]
    base = f"/simulator/api/host/google_meet/{native}"

    denied = host_api.post(f"{base}/deny", {"guest_id": second.guest_id}, format="json")
    admitted = host_api.post(f"{base}/admit", {}, format="json")
    removed = host_api.post(f"{base}/remove", {}, format="json")
    nobody = host_api.post(f"{base}/admit", {}, format="json")
    ended = host_api.post(f"{base}/end", {}, format="json")

    assert denied.status_code == admitted.status_code == removed.status_code == 200
    states = {g["name"]: g["state"] for g in removed.json()["guests"]}
    assert states == {"Bot one": "removed", "Bot two": "denied"}
    assert first.guest_id in {g["guest_id"] for g in removed.json()["guests"]}
    assert nobody.status_code == 422
    assert ended.json()["ended"] is True


def test_the_page_joins_polls_and_gets_the_participants_audio(
    speech: Speech, host_api: APIClient
) -> None:
    native = meet_id()
    load(
        native,
        variant="join_now",
        participants=[{"name": "Alice", "audio": str(speech.alice), "at_s": 1}],
    )
    page = APIClient()

    joined = page.post(
        f"/simulator/api/meeting/google_meet/{native}/join", {"name": "Bot"}, format="json"
    ).json()
    guest_id = joined["guest"]["guest_id"]
    before = page.get(f"/simulator/api/meeting/google_meet/{native}/state", {"guest": guest_id})
    page.post(
        f"/simulator/api/meeting/google_meet/{native}/ready", {"guest_id": guest_id}, format="json"
    )
    polled = page.get(
        f"/simulator/api/meeting/google_meet/{native}/state", {"guest": guest_id}
    ).json()
    scheduling = page.get(
        f"/simulator/api/meeting/google_meet/{native}/state", {"guest": guest_id, "turns": "1"}
    ).json()
    audio = page.get(scheduling["participants"][0]["turns"][0]["url"])

    assert joined["guest"]["state"] == "admitted"
    # Nobody is in the call until the page's media connection is up.
    assert before.json()["participants"][0]["present"] is False
    assert polled["participants"][0]["present"] is True
    # The page polls 4 times a second: the turns (an hour of speech is ~50 KB) only on request.
    assert "turns" not in polled["participants"][0]
    assert [t["at_s"] for t in joined["participants"][0]["turns"]] == [1.0]
    assert audio.status_code == 200
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"  # type: ignore[attr-defined]


def test_loading_a_scenario_needs_the_admin_key(speech: Speech, host_api: APIClient) -> None:
    body = {"native_meeting_id": meet_id(), "participants": [{"name": "A"}]}

    anonymous = APIClient().post("/simulator/api/scenarios", body, format="json")
    wrong = APIClient()
    wrong.credentials(HTTP_X_ADMIN_API_KEY="not-the-admin-key-at-all")
    loaded = host_api.post("/simulator/api/scenarios", body, format="json")

    assert anonymous.status_code == 403
    assert wrong.post("/simulator/api/scenarios", body, format="json").status_code == 403
    assert loaded.status_code == 201
    assert loaded.json()["meeting_url"] == f"/simulator/google_meet/{body['native_meeting_id']}"


def test_the_host_page_is_for_staff_only(db: Any, client: Any) -> None:
    native = meet_id()
    load(native)
    staff = User.objects.create_user("ops@example.com", password="pw-123456", is_staff=True)

    anonymous = client.get(f"/simulator/host/google_meet/{native}")
    client.force_login(staff)
    page = client.get(f"/simulator/host/google_meet/{native}")

    assert anonymous.status_code == 302
    assert page.status_code == 200
    assert b"End meeting for everyone" in page.content


def test_the_meeting_page_shows_both_join_variants_and_a_missing_meeting(client: Any) -> None:
    ask, now = meet_id(), meet_id()
    load(ask, variant="ask_to_join")
    load(now, variant="join_now")

    assert b"Ask to join" in client.get(f"/simulator/google_meet/{ask}").content
    assert b"Join now" in client.get(f"/simulator/google_meet/{now}").content
    assert b"Meeting not found" in client.get(f"/simulator/google_meet/{meet_id()}").content


def test_everything_is_a_404_when_the_simulator_is_off(host_api: APIClient, client: Any) -> None:
    native = meet_id()
    load(native)
    with override_settings(SIMULATOR_ENABLED=False):
        assert client.get(f"/simulator/google_meet/{native}").status_code == 404
        assert client.get(f"/simulator/host/google_meet/{native}").status_code == 404
        assert (
            host_api.post(
                "/simulator/api/scenarios", {"native_meeting_id": native}, format="json"
            ).status_code
            == 404
        )
        assert host_api.get(f"/simulator/api/host/google_meet/{native}").status_code == 404
        assert client.get(f"/simulator/api/meeting/google_meet/{native}/state").status_code == 404


def test_simulate_meeting_loads_a_scenario_file(tmp_path: Path, speech: Speech) -> None:
    native = meet_id()
    path = tmp_path / "scenario.json"
    path.write_text(
        json.dumps(
            {
                "platform": "google_meet",
                "native_meeting_id": native,
                "participants": [{"name": "Alice", "audio": str(speech.alice), "at_s": 1}],
            }
        )
    )
    out = io.StringIO()

    with override_settings(SIMULATOR_ENABLED=True):
        call_command("simulate_meeting", str(path), stdout=out)

    state = scenarios.state_get("google_meet", native)
    assert state is not None
    assert state.scenario.participants[0].name == "Alice"
    assert f"/simulator/google_meet/{native}" in out.getvalue()
