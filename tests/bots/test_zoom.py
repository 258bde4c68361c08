"""Zoom (web client) end to end: the adapter in real Chromium against the simulated Zoom page.

The page-level tests run the adapter in the product's browser host; the bot tests request a bot
through `bots.services.bot_create` and let the real worker run it. The simulated page shows
Zoom's preview, "Waiting for the host to start this meeting" while the host is late, the waiting
room, the call (everybody's speech on ONE track, the speaker's tile highlighted), and the
sign-in page of meetings for authorized attendees only.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import httpx
import pytest
from django.utils import timezone

from accounts.models import User
from bots import services as bot_services
from bots.adapters import adapter_for
from bots.adapters.base import JoinError, Phase, classify
from bots.adapters.zoom import TABLE, ZoomAdapter, web_client_url
from bots.runtime.browser import BrowserHost
from bots.simulator import scenarios
from meetings.models import Meeting, MeetingStatus
from meetings.stream import SAMPLE_RATE
from tests.bots.conftest import (
    BotStack,
    Speech,
    host_action,
    host_state,
    load_scenario,
    wait_for,
)
from tests.bots.test_bot_runtime import (
    last_entry,
    path_of,
    rms,
    stream_of,
    wait_done,
    wait_status,
    wav_seconds,
)
from tests.bots.test_page_scripts import BotPage
from tests.conftest import ADMIN_KEY
from vexa_site.errors import InvalidInput

ADAPTER = ZoomAdapter()
PASSCODE = "AbC9xYz.1"


def zoom_id() -> str:
    """A fresh 11-digit Zoom meeting id, so tests never share a simulated meeting."""
    return "".join(random.choice("0123456789") for _ in range(11))


def load_zoom(base_url: str, native: str, **scenario: Any) -> dict[str, Any]:
    return load_scenario(base_url, platform="zoom", native_meeting_id=native, **scenario)


def zoom_host_state(base_url: str, native: str) -> dict[str, Any]:
    return host_state(base_url, native, platform="zoom")


def page_url(base_url: str, native: str) -> str:
    return f"{base_url}/simulator/zoom/{native}?pwd={PASSCODE}"


# --- the adapter's table and the scenario settings -------------------------------------------


def test_zoom_is_registered_and_both_waiting_texts_are_a_lobby_never_the_call() -> None:
    indicators = list(TABLE.in_call_indicators[:2])

    def raw(**fields: Any) -> dict[str, Any]:
        return {"found": {}, "indicators": indicators, "participants": [], **fields}

    assert isinstance(adapter_for("zoom"), ZoomAdapter)
    assert classify(raw(), TABLE).phase is Phase.IN_CALL
    for text in ("Waiting for the host to start this meeting", TABLE.texts["lobby"][2]):
        assert classify(raw(found={"lobby": text}), TABLE).phase is Phase.LOBBY
    # The invite link becomes the web client; a web-client link is opened as it is.
    assert web_client_url("https://us05web.zoom.us/j/85512345678?pwd=AbC9xYz.1") == (
        "https://app.zoom.us/wc/85512345678/join?pwd=AbC9xYz.1"
    )
    assert web_client_url("https://app.zoom.us/wc/85512345678/join") is None
    assert web_client_url("https://meet.google.com/abc-defg-hij") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host_starts_after_s": -1}, "host_starts_after_s"),
        ({"host_starts_after_s": "soon"}, "host_starts_after_s"),
        ({"require_sign_in": "yes"}, "require_sign_in"),
        ({"audio_join": "sometimes"}, "audio_join"),
        ({"passcode": 12345}, "passcode"),
    ],
)
def test_a_bad_zoom_setting_is_refused_with_the_field_named(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        scenarios.scenario_parse({"platform": "zoom", "native_meeting_id": "85512345678", **fields})


def test_nobody_is_admitted_before_the_late_host_starts_the_meeting() -> None:
    scenario = scenarios.scenario_parse(
        {
            "platform": "zoom",
            "native_meeting_id": "85512345678",
            "host_starts_after_s": 5,
            "admit_after_s": 1,
        }
    )
    state = scenarios.MeetingState(scenario=scenario, loaded_at=100.0)
    guest = scenarios.Guest(guest_id="g", name="Vexa Bot", state="waiting", joined_at=110.0)
    state.guests["g"] = guest

    state.advance(115.5)  # the host came at 115: the guest waits in the waiting room
    waiting, host_at = guest.state, state.host_started_at
    state.advance(116.0)

    assert (waiting, host_at) == ("waiting", 115.0)
    assert (guest.state, guest.decided_at) == ("admitted", 116.0)


# --- the page in real Chromium ------------------------------------------------------------------


def open_page(host: BrowserHost, base_url: str, native: str, pages: list[BotPage]) -> BotPage:
    page = BotPage(host, page_url(base_url, native), adapter=ADAPTER)
    pages.append(page)
    return page


def test_the_page_scan_follows_the_preview_the_late_host_the_waiting_room_and_removal(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    native = zoom_id()
    load_zoom(
        sim_server,
        native,
        admit="manual",
        host_starts_after_s=1.0,
        participants=[{"name": "Alice"}],
    )
    page = open_page(host, sim_server, native, pages)
    preview = page.snapshot()

    page.join()
    not_started = page.wait_phase(Phase.LOBBY)
    waiting_room = wait_for(
        lambda: (
            snap
            if (snap := page.snapshot()).detail
            == "Please wait, the meeting host will let you in soon"
            else None
        ),
        timeout_s=10,
        what="the waiting room once the host came",
    )
    host_action(sim_server, native, "admit", platform="zoom")
    call = wait_for(
        lambda: (
            snap
            if (snap := page.snapshot()).phase is Phase.IN_CALL and len(snap.participants) == 2
            else None
        ),
        timeout_s=10,
        what="the call with Alice's tile",
    )
    host_action(sim_server, native, "remove", platform="zoom")
    removed = page.wait_phase(Phase.REMOVED)

    assert preview.phase is Phase.PREJOIN
    assert not_started.detail == "Waiting for the host to start this meeting"
    assert waiting_room.phase is Phase.LOBBY
    assert sorted(p.name for p in call.participants) == ["Alice", "Vexa Bot"]
    assert removed.detail == "You have been removed from this meeting"


def test_leave_confirms_leave_meeting_and_a_sign_in_page_stops_the_join(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    native, locked = zoom_id(), zoom_id()
    load_zoom(sim_server, native, variant="join_now")
    load_zoom(sim_server, locked, require_sign_in=True)
    page = open_page(host, sim_server, native, pages)
    page.join()
    page.wait_phase(Phase.IN_CALL)
    assert page.page is not None
    # Zoom's one mixed remote stream: one receiver track, one <audio> element.
    wait_for(
        lambda: page.evaluate("document.querySelectorAll('audio').length"),
        timeout_s=10,
        what="the call's audio element",
    )
    audio_elements = page.evaluate("document.querySelectorAll('audio').length")

    left = host.run(ADAPTER.leave(page.page))
    sign_in = open_page(host, sim_server, locked, pages)
    with pytest.raises(JoinError) as refused:
        sign_in.join()

    assert audio_elements == 1
    assert left is True
    assert page.wait_phase(Phase.ENDED).detail == "You left the meeting"
    assert refused.value.phase is Phase.NOT_FOUND
    assert "requires signing in" in str(refused.value)
    assert "This meeting is for authorized attendees only" in str(refused.value)


def test_join_audio_reopens_a_closed_dialog_clicks_join_audio_by_computer_and_then_hears(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    native, broken = zoom_id(), zoom_id()
    load_zoom(sim_server, native, variant="join_now", audio_join="prompt")
    load_zoom(sim_server, broken, variant="join_now", audio_join="disabled")
    page = open_page(host, sim_server, native, pages)
    page.join()
    page.wait_phase(Phase.IN_CALL)
    assert page.page is not None
    audio_before = page.evaluate("document.querySelectorAll('audio').length")
    # The user (or a popup) closed the dialog: only the footer's "Join Audio" is left.
    page.evaluate("document.querySelector('.join-audio-dialog [aria-label=close]').click()")

    steps = [host.run(ADAPTER.join_audio(page.page)) for _ in range(2)]
    wait_for(
        lambda: page.evaluate("document.querySelectorAll('audio').length"),
        timeout_s=10,
        what="the call's audio once joined",
    )
    joined = host.run(ADAPTER.join_audio(page.page))
    footer_label = page.evaluate(
        "document.querySelector('.join-audio-container__btn').getAttribute('aria-label')"
    )
    stuck = open_page(host, sim_server, broken, pages)
    stuck.join()
    stuck.wait_phase(Phase.IN_CALL)
    assert stuck.page is not None
    stuck_steps = [host.run(ADAPTER.join_audio(stuck.page)) for _ in range(3)]

    assert audio_before == 0  # nothing of the meeting plays before the audio is joined
    assert steps == [False, False]  # opened the dialog, then clicked "Join Audio by Computer"
    assert joined is True
    assert footer_label == "mute my microphone"
    assert stuck_steps == [False, False, False]  # a disabled button is never taken for joined
    assert stuck.evaluate("document.querySelectorAll('audio').length") == 0


def test_the_passcode_field_is_filled_from_the_link_and_a_missing_or_wrong_one_is_a_dead_end(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    native = zoom_id()
    load_zoom(sim_server, native, variant="join_now", passcode="Secret42")
    base = f"{sim_server}/simulator/zoom/{native}"

    def opened(query: str) -> BotPage:
        page = BotPage(host, base + query, adapter=ADAPTER)
        pages.append(page)
        return page

    field = "document.querySelectorAll('#input-for-pwd').length"
    # A link that carries the passcode goes straight in, no field to fill.
    right = opened("?pwd=Secret42")
    right_field = right.evaluate(field)
    right.join()
    right.wait_phase(Phase.IN_CALL)
    # A link with another passcode shows the field; the bot types what it has and is refused.
    wrong = opened("?pwd=Guess99")
    wrong_field = wrong.evaluate(field)
    wrong.join()
    refused = wrong.wait_phase(Phase.NOT_FOUND)
    without = opened("")
    with pytest.raises(JoinError) as no_passcode:
        without.join()

    assert (right_field, wrong_field) == (0, 1)
    assert refused.detail == "the meeting refused the passcode: Passcode wrong"
    assert zoom_host_state(sim_server, native)["guests"][0]["state"] == "admitted"  # only `right`
    assert len(zoom_host_state(sim_server, native)["guests"]) == 1
    assert no_passcode.value.phase is Phase.NOT_FOUND
    assert "asks for a passcode and the bot was given none" in str(no_passcode.value)


# --- the bot, end to end --------------------------------------------------------------------

USES_DB = pytest.mark.django_db(transaction=True)


@pytest.fixture
def erin(transactional_db: Any) -> User:
    return User.objects.create_user("erin@example.com", name="Erin", max_concurrent_bots=0)


def send_bot(user: User, native: str, **config: Any) -> Meeting:
    config.setdefault("transcribe_enabled", False)
    return bot_services.bot_create(
        user=user,
        platform="zoom",
        native_meeting_id=native,
        passcode=PASSCODE,
        bot_name="Vexa Bot",
        **config,
    )


@USES_DB
def test_a_bot_waits_for_the_late_host_then_the_waiting_room_and_is_active_once_admitted(
    bot_stack: BotStack, erin: User
) -> None:
    native = zoom_id()
    load_zoom(
        bot_stack.base_url,
        native,
        admit="manual",
        host_starts_after_s=3.0,
        participants=[{"name": "Alice"}],
    )
    meeting = send_bot(erin, native)
    # "Waiting for the host to start this meeting" is a waiting room to the bot, not a failure.
    wait_status(meeting, MeetingStatus.AWAITING_ADMISSION)
    before_host = zoom_host_state(bot_stack.base_url, native)
    # Nobody can let the bot in before the host is there.
    early_admit = httpx.post(
        f"{bot_stack.base_url}/simulator/api/host/zoom/{native}/admit",
        json={},
        headers={"X-Admin-API-Key": ADMIN_KEY},
        timeout=10,
    )
    in_waiting_room = wait_for(
        lambda: (
            state
            if (state := zoom_host_state(bot_stack.base_url, native))["host_started"]
            else None
        ),
        timeout_s=10,
        what="the host to start the meeting",
    )
    still_waiting = Meeting.objects.get(pk=meeting.pk).status
    admitted_at = timezone.now()
    bot_stack.host(native, "admit", platform="zoom")
    active = wait_status(meeting, MeetingStatus.ACTIVE)
    went_active = datetime.fromisoformat(last_entry(active)["timestamp"].replace("Z", "+00:00"))
    bot_stack.host(native, "end", platform="zoom")

    done = wait_done(meeting)

    assert before_host["host_started"] is False
    assert [g["state"] for g in before_host["guests"]] == ["waiting"]
    assert early_admit.status_code == 422
    assert "has not started" in early_admit.json()["detail"]
    assert [(g["name"], g["state"]) for g in in_waiting_room["guests"]] == [("Vexa Bot", "waiting")]
    assert still_waiting == MeetingStatus.AWAITING_ADMISSION
    assert went_active >= admitted_at
    assert path_of(done) == ["requested", "joining", "awaiting_admission", "active", "completed"]
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    assert stream_of(done)[-1].reason == "meeting_ended"


@USES_DB
def test_a_bot_on_a_meeting_for_signed_in_users_fails_at_joining_with_the_reason(
    bot_stack: BotStack, erin: User
) -> None:
    native = zoom_id()
    load_zoom(bot_stack.base_url, native, require_sign_in=True)
    meeting = send_bot(erin, native)

    done = wait_done(meeting)

    assert done.status == MeetingStatus.FAILED
    assert path_of(done) == ["requested", "joining", "failed"]
    assert done.data["failure_stage"] == "joining"
    assert "requires signing in" in done.data["error_details"]["message"]
    assert "authorized attendees only" in done.data["join_failure_evidence"]["page_text"]


@USES_DB
def test_a_bot_admitted_without_the_calls_audio_joins_it_and_hears_the_speech(
    bot_stack: BotStack, speech: Speech, erin: User
) -> None:
    native = zoom_id()
    alice_len = wav_seconds(speech.alice)
    load_zoom(
        bot_stack.base_url,
        native,
        variant="join_now",
        audio_join="prompt",
        participants=[{"name": "Alice", "audio": str(speech.alice), "at_s": 0.8}],
        end_after_s=0.8 + alice_len + 0.6,
    )
    meeting = send_bot(erin, native)

    done = wait_done(meeting, timeout_s=40)

    assert path_of(done) == ["requested", "joining", "active", "completed"]
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    entries = stream_of(done)
    turn = [e.t or 0.0 for e in entries if e.type == "speaker" and e.name == "Alice"]
    pcm = b"".join(e.pcm or b"" for e in entries if e.type == "audio")
    assert len(turn) == 2
    assert rms(pcm[int(turn[0] * SAMPLE_RATE) * 2 : int(turn[1] * SAMPLE_RATE) * 2]) > 1000


@USES_DB
def test_a_bot_that_cannot_join_the_calls_audio_fails_with_the_reason_instead_of_hearing_nothing(
    bot_stack: BotStack, erin: User
) -> None:
    native = zoom_id()
    load_zoom(
        bot_stack.base_url,
        native,
        variant="join_now",
        audio_join="disabled",
        participants=[{"name": "Alice"}],
    )
    meeting = send_bot(erin, native)

    done = wait_done(meeting, timeout_s=40)

    assert done.status == MeetingStatus.FAILED
    assert path_of(done) == ["requested", "joining", "active", "failed"]
    assert done.data["failure_stage"] == "active"
    assert "could not join its audio" in done.data["error_details"]["message"]
    assert "Join Audio by Computer" in done.data["join_failure_evidence"]["page_text"]


@USES_DB
def test_a_bot_with_the_wrong_passcode_fails_at_joining_with_the_reason(
    bot_stack: BotStack, erin: User
) -> None:
    native = zoom_id()
    load_zoom(bot_stack.base_url, native, variant="join_now", passcode="Secret42")
    meeting = bot_services.bot_create(
        user=erin,
        platform="zoom",
        native_meeting_id=native,
        passcode="Guess99",
        bot_name="Vexa Bot",
        transcribe_enabled=False,
    )

    done = wait_done(meeting)

    assert done.status == MeetingStatus.FAILED
    assert path_of(done) == ["requested", "joining", "failed"]
    assert done.data["failure_stage"] == "joining"
    assert "refused the passcode: Passcode wrong" in done.data["error_details"]["message"]
    assert zoom_host_state(bot_stack.base_url, native)["guests"] == []


@USES_DB
def test_a_bot_whose_call_audio_is_dropped_joins_it_again_and_hears_the_next_turn(
    bot_stack: BotStack, speech: Speech, erin: User
) -> None:
    native = zoom_id()
    alice_len = wav_seconds(speech.alice)
    again_at = 0.8 + alice_len + 5.0
    load_zoom(
        bot_stack.base_url,
        native,
        variant="join_now",
        participants=[{"name": "Alice", "audio": str(speech.alice), "at_s": [0.8, again_at]}],
        end_after_s=again_at + alice_len + 0.6,
    )
    meeting = send_bot(erin, native)
    wait_status(meeting, MeetingStatus.ACTIVE)
    # Between Alice's turns Zoom drops the bot's computer audio.
    wait_for(
        lambda: any(
            e.type == "speaker" and e.state == "stop"
            for e in stream_of(Meeting.objects.get(pk=meeting.pk))
        ),
        timeout_s=15,
        what="the end of Alice's first turn",
    )
    bot_stack.host(native, "drop_audio", platform="zoom")

    done = wait_done(meeting, timeout_s=40)

    assert path_of(done) == ["requested", "joining", "active", "completed"]
    entries = stream_of(done)
    turns = [e.t or 0.0 for e in entries if e.type == "speaker" and e.name == "Alice"]
    pcm = b"".join(e.pcm or b"" for e in entries if e.type == "audio")
    assert len(turns) == 4
    second = pcm[int(turns[2] * SAMPLE_RATE) * 2 : int(turns[3] * SAMPLE_RATE) * 2]
    assert rms(second) > 1000  # heard again after the bot rejoined the audio
