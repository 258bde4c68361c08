"""Platforms that deliver ONE mixed remote audio stream (Teams, Zoom), in real Chromium.

Unlike Meet's three re-used tracks, everyone's speech arrives mixed, so who speaks comes only
from the tiles: the bot must still name each turn's speaker, in order, on the capture clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import User
from bots import services as bot_services
from meetings.models import Recording
from meetings.stream import SAMPLE_RATE
from tests.bots.conftest import BotStack, Speech, load_scenario
from tests.bots.test_bot_runtime import (
    last_entry,
    path_of,
    rms,
    stream_of,
    wait_done,
    wav_seconds,
)
from tests.bots.test_teams import PASSCODE as TEAMS_PASSCODE
from tests.bots.test_teams import teams_id
from tests.bots.test_zoom import PASSCODE as ZOOM_PASSCODE
from tests.bots.test_zoom import zoom_id

PLATFORMS = [("teams", teams_id, TEAMS_PASSCODE), ("zoom", zoom_id, ZOOM_PASSCODE)]


@pytest.fixture
def frank(transactional_db: Any) -> User:
    return User.objects.create_user("frank@example.com", name="Frank", max_concurrent_bots=0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("platform", "new_id", "passcode"), PLATFORMS, ids=["teams", "zoom"])
def test_a_bot_streams_the_mixed_audio_and_names_two_alternating_speakers(
    bot_stack: BotStack,
    speech: Speech,
    frank: User,
    platform: str,
    new_id: Callable[[], str],
    passcode: str,
) -> None:
    native = new_id()
    alice_len, bob_len = wav_seconds(speech.alice), wav_seconds(speech.bob)
    bob_at = 0.8 + alice_len + 0.6
    alice_again_at = bob_at + bob_len + 0.6
    load_scenario(
        bot_stack.base_url,
        platform=platform,
        native_meeting_id=native,
        variant="join_now",
        participants=[
            {"name": "Alice", "audio": str(speech.alice), "at_s": [0.8, alice_again_at]},
            {"name": "Bob", "audio": str(speech.bob), "at_s": bob_at},
        ],
        end_after_s=alice_again_at + alice_len + 0.6,
    )
    meeting = bot_services.bot_create(
        user=frank,
        platform=platform,
        native_meeting_id=native,
        passcode=passcode,
        bot_name="Vexa Bot",
        language="en",
        transcribe_enabled=False,
    )

    done = wait_done(meeting, timeout_s=40)

    assert path_of(done) == ["requested", "joining", "active", "completed"]
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    entries = stream_of(done)
    speakers = [(e.name, e.state, e.t or 0.0) for e in entries if e.type == "speaker"]
    assert [(name, state) for name, state, _ in speakers] == [
        ("Alice", "start"),
        ("Alice", "stop"),
        ("Bob", "start"),
        ("Bob", "stop"),
        ("Alice", "start"),
        ("Alice", "stop"),
    ]
    starts = [t for _, state, t in speakers if state == "start"]
    assert starts[1] - starts[0] == pytest.approx(bob_at - 0.8, abs=0.3)
    assert starts[2] - starts[0] == pytest.approx(alice_again_at - 0.8, abs=0.3)
    pcm = b"".join(e.pcm or b"" for e in entries if e.type == "audio")

    def heard(start: float, stop: float) -> float:
        return rms(pcm[int(start * SAMPLE_RATE) * 2 : int(stop * SAMPLE_RATE) * 2])

    # Each turn is heard on the one mixed stream, and the pause between turns is silent.
    times = [t for _, _, t in speakers]
    assert heard(times[0], times[1]) > 1000
    assert heard(times[2], times[3]) > 1000
    assert heard(times[1] + 0.2, times[2] - 0.2) < 100
    assert Recording.objects.get(meeting=done).status == "completed"
