"""Microsoft Teams end to end: the adapter in real Chromium against the simulated Teams page.

The page-level tests run the adapter and the capture script in the product's browser host; the
bot tests request a bot through `bots.services.bot_create` and let the real worker run it. The
simulated page shows Teams' optional "Continue on this browser" step, its pre-join form, the
lobby (with a hang-up button, like the real one), and plays everybody's speech on ONE track.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from bots import services as bot_services
from bots.adapters import adapter_for
from bots.adapters.base import Phase, classify
from bots.adapters.teams import TABLE, TeamsAdapter
from bots.runtime.browser import BrowserHost
from meetings.models import Meeting, MeetingSession, MeetingStatus
from meetings.stream import SAMPLE_RATE
from tests.bots.conftest import BotStack, Speech, host_action, load_scenario, wait_for
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

ADAPTER = TeamsAdapter()
PASSCODE = "RBZCWdxyp85T"


def teams_id() -> str:
    """A fresh numeric Teams meeting id, so tests never share a simulated meeting."""
    return "".join(random.choice("0123456789") for _ in range(13))


def load_teams(base_url: str, native: str, **scenario: Any) -> dict[str, Any]:
    return load_scenario(base_url, platform="teams", native_meeting_id=native, **scenario)


def page_url(base_url: str, native: str) -> str:
    return f"{base_url}/simulator/teams/{native}?p={PASSCODE}"


# --- the adapter's table and page scan ------------------------------------------------------


def test_teams_is_registered_and_a_visible_join_now_button_is_never_the_call() -> None:
    indicators = list(TABLE.in_call_indicators[:3])

    def raw(**fields: Any) -> dict[str, Any]:
        return {"found": {}, "indicators": indicators, "participants": [], **fields}

    assert isinstance(adapter_for("teams"), TeamsAdapter)
    assert classify(raw(), TABLE).phase is Phase.IN_CALL
    assert classify(raw(join_button=True), TABLE).phase is Phase.PREJOIN
    lobby = raw(found={"lobby": "Someone will let you in shortly"})
    assert classify(lobby, TABLE).phase is Phase.LOBBY


def open_page(host: BrowserHost, base_url: str, native: str, pages: list[BotPage]) -> BotPage:
    page = BotPage(host, page_url(base_url, native), adapter=ADAPTER)
    pages.append(page)
    return page


def test_the_page_scan_follows_continue_prejoin_lobby_admission_and_removal(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    native = teams_id()
    load_teams(sim_server, native, admit="manual", participants=[{"name": "Alice"}])
    page = open_page(host, sim_server, native, pages)
    # "Continue on this browser" first: neither the pre-join form nor the call yet.
    launcher = page.snapshot()

    page.join()
    lobby = page.wait_phase(Phase.LOBBY)
    host_action(sim_server, native, "admit", platform="teams")
    call = wait_for(
        lambda: (
            snap
            if (snap := page.snapshot()).phase is Phase.IN_CALL and len(snap.participants) == 2
            else None
        ),
        timeout_s=10,
        what="the call with Alice's tile",
    )
    host_action(sim_server, native, "remove", platform="teams")
    removed = page.wait_phase(Phase.REMOVED)

    assert launcher.phase is Phase.UNKNOWN
    # The lobby shows the hang-up button too: its text alone keeps it from counting as the call.
    assert lobby.detail == "Someone will let you in shortly"
    assert "#hangup-button" in lobby.indicators
    assert sorted(p.name for p in call.participants) == ["Alice", "Vexa Bot"]
    assert removed.detail == "You've been removed from this meeting"


def test_leave_clicks_the_hang_up_button_and_the_page_says_the_bot_left(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    native = teams_id()
    load_teams(sim_server, native, variant="join_now", continue_step=False)
    page = open_page(host, sim_server, native, pages)
    page.join()
    page.wait_phase(Phase.IN_CALL)
    assert page.page is not None

    left = host.run(ADAPTER.leave(page.page))

    assert left is True
    assert page.wait_phase(Phase.ENDED).detail == "You left the meeting"


def test_capture_hears_teams_one_mixed_track_and_the_tiles_name_who_speaks(
    sim_server: str, speech: Speech, host: BrowserHost, pages: list[BotPage]
) -> None:
    native = teams_id()
    alice_len = wav_seconds(speech.alice)
    load_teams(
        sim_server,
        native,
        variant="join_now",
        continue_step=False,
        participants=[
            {"name": "Alice", "audio": str(speech.alice), "at_s": 0.5},
            {"name": "Bob", "audio": str(speech.bob), "at_s": 0.5 + alice_len + 0.3},
        ],
    )
    page = open_page(host, sim_server, native, pages)
    page.join()
    page.wait_phase(Phase.IN_CALL)
    page.evaluate("window.__vexaCapture.start()")
    order: list[str] = []

    def bob_heard() -> bool:
        for p in page.snapshot().participants:
            if p.speaking and (not order or order[-1] != p.name):
                order.append(p.name)
        return "Bob" in order

    wait_for(bob_heard, timeout_s=20, what="Bob's turn")
    stats = page.evaluate("window.__vexaCapture.stats()")
    pcm = b"".join(chunk for _, chunk in page.chunks)
    half_second = SAMPLE_RATE
    loudest = max(rms(pcm[i : i + half_second]) for i in range(0, len(pcm), half_second))

    # One mixed track for everybody, though two people speak.
    assert stats["tracks"] == 1
    assert page.evaluate("document.querySelectorAll('audio').length") == 1
    assert loudest > 1000
    assert order == ["Alice", "Bob"]


def test_live_captions_are_turned_on_from_the_menu_and_name_a_speaker_without_a_tile(
    sim_server: str, speech: Speech, host: BrowserHost, pages: list[BotPage]
) -> None:
    native, forbidden = teams_id(), teams_id()
    alice_len = wav_seconds(speech.alice)
    load_teams(
        sim_server,
        native,
        variant="join_now",
        continue_step=False,
        gallery_size=1,
        participants=[
            {"name": "Alice", "audio": str(speech.alice), "at_s": 0.5},
            {"name": "Bob", "audio": str(speech.bob), "at_s": 0.5 + alice_len + 0.3},
        ],
    )
    load_teams(sim_server, forbidden, variant="join_now", continue_step=False, captions=False)
    page = open_page(host, sim_server, native, pages)
    page.join()
    page.wait_phase(Phase.IN_CALL)
    assert page.page is not None
    steps = [host.run(ADAPTER.turn_on_captions(page.page)) for _ in range(4)]

    def bob_captioned() -> Any:
        snap = page.snapshot()
        return snap if any(author == "Bob" for author, _ in snap.captions) else None

    bob_turn = wait_for(bob_captioned, timeout_s=20, what="a caption row by Bob")
    locked = open_page(host, sim_server, forbidden, pages)
    locked.join()
    locked.wait_phase(Phase.IN_CALL)
    assert locked.page is not None
    locked_steps = [host.run(ADAPTER.turn_on_captions(locked.page)) for _ in range(4)]

    # More, "Language and speech", "Turn on live captions", then on.
    assert steps == [False, False, False, True]
    # The gallery holds Alice's tile only: Bob is known from his caption row alone.
    assert sorted(p.name for p in bob_turn.participants) == ["Alice", "Vexa Bot"]
    assert [author for author, _ in bob_turn.captions] == ["Alice", "Bob"]
    assert bob_turn.captions[-1][1].startswith("…")
    assert locked_steps == [False, False, False, False]  # a policy that forbids captions


# --- the bot, end to end --------------------------------------------------------------------

USES_DB = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dave(transactional_db: Any) -> User:
    return User.objects.create_user("dave@example.com", name="Dave", max_concurrent_bots=0)


def send_bot(user: User, native: str, **config: Any) -> Meeting:
    config.setdefault("transcribe_enabled", False)
    return bot_services.bot_create(
        user=user,
        platform="teams",
        native_meeting_id=native,
        passcode=PASSCODE,
        bot_name="Vexa Bot",
        **config,
    )


@USES_DB
def test_a_bot_waits_in_the_lobby_is_active_only_once_admitted_and_completes_at_the_end(
    bot_stack: BotStack, dave: User
) -> None:
    native = teams_id()
    # The meeting has a passcode: the simulated page takes it from the link's `p`, as Teams does.
    load_teams(
        bot_stack.base_url,
        native,
        admit="manual",
        passcode=PASSCODE,
        participants=[{"name": "Alice"}],
    )
    meeting = send_bot(dave, native)
    # The lobby shows a hang-up button like the call: only its text keeps the bot waiting.
    wait_status(meeting, MeetingStatus.AWAITING_ADMISSION)
    admitted_at = timezone.now()
    # The simulated lobby knows the bot: it pressed "Join now" after "Continue on this browser".
    waiting = bot_stack.host(native, "admit", platform="teams")
    assert [g["name"] for g in waiting["guests"]] == ["Vexa Bot"]
    active = wait_status(meeting, MeetingStatus.ACTIVE)
    went_active = datetime.fromisoformat(last_entry(active)["timestamp"].replace("Z", "+00:00"))
    assert went_active >= admitted_at
    bot_stack.host(native, "end", platform="teams")

    done = wait_done(meeting)

    assert path_of(done) == ["requested", "joining", "awaiting_admission", "active", "completed"]
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    assert stream_of(done)[-1].reason == "meeting_ended"


@USES_DB
@pytest.mark.parametrize(
    ("scenario", "path", "reason"),
    [
        (
            {"admit": "deny", "admit_after_s": 0.5},
            ["requested", "joining", "awaiting_admission", "completed"],
            "awaiting_admission_rejected",
        ),
        (
            {"admit_after_s": 0.2, "remove_bot_after_s": 1.0, "participants": [{"name": "Alice"}]},
            ["requested", "joining", "awaiting_admission", "active", "completed"],
            "evicted",
        ),
    ],
    ids=["denied", "removed-by-host"],
)
def test_a_bot_that_is_denied_or_removed_completes_with_the_reason(
    bot_stack: BotStack,
    dave: User,
    scenario: dict[str, Any],
    path: list[str],
    reason: str,
) -> None:
    native = teams_id()
    load_teams(bot_stack.base_url, native, **scenario)
    meeting = send_bot(dave, native)

    done = wait_done(meeting)

    assert path_of(done) == path
    assert last_entry(done)["completion_reason"] == reason
    sessions = MeetingSession.objects.filter(meeting=done)
    assert sessions.exists() == (reason == "evicted")


@USES_DB
def test_a_bot_names_a_speaker_the_gallery_has_no_tile_for_from_live_captions(
    bot_stack: BotStack, speech: Speech, dave: User
) -> None:
    native = teams_id()
    alice_len, bob_len = wav_seconds(speech.alice), wav_seconds(speech.bob)
    # Captions are turned on in the first seconds after admission; the turns come after that.
    alice_at = 3.0
    bob_at = alice_at + alice_len + 0.8
    alice_again_at = bob_at + bob_len + 0.8
    load_teams(
        bot_stack.base_url,
        native,
        variant="join_now",
        continue_step=False,
        gallery_size=1,
        participants=[
            {"name": "Alice", "audio": str(speech.alice), "at_s": [alice_at, alice_again_at]},
            {"name": "Bob", "audio": str(speech.bob), "at_s": bob_at},
        ],
        end_after_s=alice_again_at + alice_len + 1.5,
    )
    meeting = send_bot(dave, native)

    done = wait_done(meeting, timeout_s=45)

    assert path_of(done) == ["requested", "joining", "active", "completed"]
    # Caption turns are known a moment late (a stop only once the row stayed still), so their
    # events come out of order with the tiles'; their times are what count.
    speakers = sorted(
        (
            (e.name, e.participant_id, e.state, e.t or 0.0)
            for e in stream_of(done)
            if e.type == "speaker"
        ),
        key=lambda event: event[3],
    )
    assert [(name, state) for name, _, state, _ in speakers] == [
        ("Alice", "start"),
        ("Alice", "stop"),
        ("Bob", "start"),
        ("Bob", "stop"),
        ("Alice", "start"),
        ("Alice", "stop"),
    ]
    bob = [(pid, t) for name, pid, _, t in speakers if name == "Bob"]
    assert {pid for pid, _ in bob} == {"caption:Bob"}
    alice_start = speakers[0][3]
    # On the capture clock, within what the captions' lag allows.
    assert bob[0][1] - alice_start == pytest.approx(bob_at - alice_at, abs=0.4)
    # The last rewrite of a row comes up to a caption step before the turn's end.
    assert bob[1][1] - bob[0][1] == pytest.approx(bob_len, abs=0.6)
