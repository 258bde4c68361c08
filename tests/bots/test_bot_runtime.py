"""The bot end to end: real Chromium in a real Celery worker joins the product's simulated Meet.

Every test requests a bot through the product's own service (`bots.services.bot_create`, what
`POST /bots` calls), lets the worker run it against a scenario, and checks the meeting's status
history, the session stream (audio + speaker events) and the recording.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import resource
import signal
import struct
import subprocess
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from bots import services as bot_services
from bots.control import control_channel
from bots.runtime import supervision
from bots.runtime.recording import decode_pcm16k
from bots.selectors import meeting_chat
from meetings import lifecycle
from meetings.models import (
    BotChatMessage,
    ChatMessage,
    Meeting,
    MeetingSession,
    MeetingStatus,
    Recording,
)
from meetings.stream import SAMPLE_RATE, SessionStream, StreamEntry, read_wav_pcm16k
from tests import processes
from tests.bots.conftest import BotStack, Speech, host_state, meet_id, stack_env, wait_for
from tests.speech import VOICES, make_silence_wav, make_speech_wav
from transcripts import realtime
from vexa_site.celery import app as celery_app
from vexa_site.redis import get_redis

pytestmark = pytest.mark.django_db(transaction=True)

TERMINAL = (MeetingStatus.COMPLETED, MeetingStatus.FAILED)


@pytest.fixture
def carol(transactional_db: Any) -> User:
    return User.objects.create_user("carol@example.com", name="Carol", max_concurrent_bots=0)


def send_bot(user: User, native_id: str, **config: Any) -> Meeting:
    config.setdefault("transcribe_enabled", False)
    return bot_services.bot_create(
        user=user,
        platform="google_meet",
        native_meeting_id=native_id,
        bot_name="Vexa Bot",
        **config,
    )


def unqueued_meeting(user: User, native_id: str) -> Meeting:
    """A requested meeting whose bot is not enqueued: the test sends it to a worker of its own."""
    meeting = Meeting.objects.create(
        user=user,
        platform="google_meet",
        native_meeting_id=native_id,
        bot_config={"bot_name": "Vexa Bot", "transcribe_enabled": False},
    )
    lifecycle.record_created(meeting)
    return meeting


def wait_status(meeting: Meeting, *statuses: str, timeout_s: float = 20) -> Meeting:
    def reached() -> Meeting | None:
        fresh = Meeting.objects.get(pk=meeting.pk)
        return fresh if fresh.status in statuses else None

    return wait_for(reached, timeout_s=timeout_s, what=f"meeting {meeting.pk} to be {statuses}")


def wait_done(meeting: Meeting, timeout_s: float = 25) -> Meeting:
    return wait_status(meeting, *TERMINAL, timeout_s=timeout_s)


def path_of(meeting: Meeting) -> list[str]:
    return [entry["to"] for entry in meeting.data["status_transition"]]


def last_entry(meeting: Meeting) -> dict[str, Any]:
    return dict(meeting.data["status_transition"][-1])


def stream_of(meeting: Meeting) -> list[StreamEntry]:
    session = MeetingSession.objects.get(meeting=meeting)
    return SessionStream(session.session_uid).read_all()


def rms(pcm: bytes) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def voiced_span_s(pcm: bytes, *, threshold: float = 300.0) -> float:
    """Seconds from the first to the last 20 ms frame louder than `threshold`."""
    frame = int(0.02 * SAMPLE_RATE) * 2
    loud = [i for i in range(0, len(pcm) - frame, frame) if rms(pcm[i : i + frame]) > threshold]
    return 0.0 if not loud else (loud[-1] - loud[0] + frame) / (2 * SAMPLE_RATE)


def turn_window(pcm: bytes, *, start: float, stop: float) -> bytes:
    """The recording's PCM from 0.3 s before a turn to 0.3 s after it. Clamped at the start:
    a turn heard in the first 0.3 s made a negative index, an empty window from the end."""
    return pcm[max(0, int((start - 0.3) * SAMPLE_RATE)) * 2 : int((stop + 0.3) * SAMPLE_RATE) * 2]


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def wait_recording_started(meeting: Meeting) -> None:
    wait_for(
        lambda: Recording.objects.filter(meeting=meeting, size_bytes__gt=44).exists(),
        timeout_s=10,
        what="some recorded audio",
    )


@contextmanager
def bot_on_its_own_worker(
    bot_stack: BotStack, meeting: Meeting, tmp_path: Path, *, name: str, **settings: str
) -> Iterator[subprocess.Popen[str]]:
    """Run `meeting`'s bot on a worker consuming a queue of its own (the shared worker cannot
    take it), with these extra `settings`; yields that worker once the bot is in the call and
    recording."""
    from bots.tasks import run_bot

    queue = f"bots-{name}-{meeting.native_meeting_id}"
    env = {**stack_env(bot_stack.base_url, tmp_path), **settings}
    with processes.celery_worker(queue, pool="threads", name=name, env=env) as worker:
        run_bot.apply_async(args=[meeting.pk], queue=queue)
        wait_status(meeting, MeetingStatus.ACTIVE)
        wait_recording_started(meeting)
        yield worker


def test_it_joins_with_ask_to_join_and_streams_the_scenarios_speech_and_speakers(
    bot_stack: BotStack, speech: Speech, carol: User
) -> None:
    native = meet_id()
    alice_len, bob_len = wav_seconds(speech.alice), wav_seconds(speech.bob)
    bob_at = 1.0 + alice_len + 0.6
    bot_stack.load_scenario(
        native_meeting_id=native,
        variant="ask_to_join",
        admit="auto",
        admit_after_s=0.5,
        participants=[
            {"name": "Alice", "audio": str(speech.alice), "at_s": 1.0},
            {"name": "Bob", "audio": str(speech.bob), "at_s": bob_at},
            {"name": "Chen", "join_at_s": 1.0, "leave_at_s": 2.5},
        ],
        end_after_s=bob_at + bob_len + 0.8,
    )
    meeting = send_bot(carol, native, language="en")

    done = wait_done(meeting)

    assert path_of(done) == ["requested", "joining", "awaiting_admission", "active", "completed"]
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    assert {e["source"] for e in done.data["status_transition"][1:]} == {"bot_callback"}
    entries = stream_of(done)
    assert entries[-1].type == "end"
    assert entries[-1].reason == "meeting_ended"
    speakers = [(e.name, e.state, e.t) for e in entries if e.type == "speaker"]
    assert [(name, state) for name, state, _ in speakers] == [
        ("Alice", "start"),
        ("Alice", "stop"),
        ("Bob", "start"),
        ("Bob", "stop"),
    ]
    alice_start, alice_stop, bob_start, bob_stop = (t or 0.0 for _, _, t in speakers)
    assert bob_start - alice_start == pytest.approx(bob_at - 1.0, abs=0.3)
    assert alice_stop - alice_start == pytest.approx(alice_len, abs=0.3)
    assert bob_stop - bob_start == pytest.approx(bob_len, abs=0.3)

    audio = [e for e in entries if e.type == "audio"]
    # No hidden gaps: each chunk starts where the previous one ended.
    for before, after in itertools.pairwise(audio):
        assert after.t == pytest.approx((before.t or 0) + before.duration_s, abs=1e-3)
    pcm = b"".join(e.pcm or b"" for e in audio)
    for (start, stop), source in (
        ((alice_start, alice_stop), speech.alice),
        ((bob_start, bob_stop), speech.bob),
    ):
        window = turn_window(pcm, start=start, stop=stop)
        expected = voiced_span_s(read_wav_pcm16k(source))
        profile = [round(rms(pcm[i : i + 3200])) for i in range(0, len(pcm), 3200)]
        assert voiced_span_s(window) == pytest.approx(expected, rel=0.05), (speakers, profile)
        assert rms(window) > 1000  # speech, not the silence a broken capture produces
    # Between the turns the meeting is silent: the audio is the scenario's, not noise.
    gap = pcm[int((alice_stop + 0.2) * SAMPLE_RATE) * 2 : int((bob_start - 0.2) * SAMPLE_RATE) * 2]
    assert rms(gap) < 100

    recording = Recording.objects.get(meeting=done)
    assert recording.status == "completed"
    assert recording.duration_s == pytest.approx(len(pcm) / (2 * SAMPLE_RATE), abs=0.2)
    assert recording.content_type == "audio/ogg"
    recorded_pcm = decode_pcm16k(recording.file_path)
    assert len(recorded_pcm) / (2 * SAMPLE_RATE) == pytest.approx(recording.duration_s, abs=0.03)
    # What the user downloads is what was said: Alice's turn is as loud and as long in it.
    window = recorded_pcm[
        int((alice_start - 0.3) * SAMPLE_RATE) * 2 : int((alice_stop + 0.3) * SAMPLE_RATE) * 2
    ]
    assert voiced_span_s(window) == pytest.approx(
        voiced_span_s(read_wav_pcm16k(speech.alice)), rel=0.05
    )

    # Who was there, and when: Chen came a second in and left 1.5 s later; the others stayed.
    attendance = {entry["name"]: entry for entry in done.data["attendance"]}
    assert set(attendance) == {"Alice", "Bob", "Chen"}

    def seconds(name: str, key: str, since: tuple[str, str] = ("Alice", "joined_at")) -> float:
        moment = datetime.fromisoformat(attendance[name][key])
        return (moment - datetime.fromisoformat(attendance[since[0]][since[1]])).total_seconds()

    assert seconds("Bob", "joined_at") == pytest.approx(0, abs=0.3)
    assert seconds("Chen", "joined_at") == pytest.approx(1.0, abs=0.5)
    assert seconds("Chen", "left_at", since=("Chen", "joined_at")) == pytest.approx(1.5, abs=0.5)
    assert done.end_time is not None
    for name in ("Alice", "Bob"):
        left_at = datetime.fromisoformat(attendance[name]["left_at"])
        assert seconds(name, "left_at") > seconds("Chen", "left_at") + 3
        assert left_at <= done.end_time
    # Live subscribers heard each arrival and Chen's leaving, at the stored times; the others
    # did not leave (the bot did).
    log = realtime.event_log_entries(realtime.meeting_event_log_key(done))
    comings = [
        (message["type"], message["payload"]["name"], message["payload"]["timestamp"])
        for _, message in log
        if message["type"].startswith("participant.")
    ]
    assert sorted(comings) == sorted(
        [("participant.joined", name, attendance[name]["joined_at"]) for name in attendance]
        + [("participant.left", "Chen", attendance["Chen"]["left_at"])]
    )


def test_six_people_taking_turns_on_meets_three_tracks_are_each_named_and_heard(
    bot_stack: BotStack, speech: Speech, carol: User
) -> None:
    # Peers' users report wrong names from five people on: Meet plays them on three re-used
    # tracks, so attribution must come from who the page shows speaking, not from a track.
    names = ["Alice", "Bob", "Chen", "Dana", "Emeka", "Fatima"]
    participants = []
    at = 1.0
    for index, name in enumerate(names):
        clip = make_speech_wav(
            f"{name} speaking now.", speech.folder / f"six-{name}.wav", voice=VOICES[index % 4]
        )
        participants.append({"name": name, "audio": str(clip), "at_s": at})
        at += wav_seconds(clip) + 0.7
    native = meet_id()
    bot_stack.load_scenario(
        native_meeting_id=native,
        variant="join_now",
        participants=participants,
        end_after_s=at + 0.3,
    )
    meeting = send_bot(carol, native, language="en")

    done = wait_done(meeting, timeout_s=40)

    assert last_entry(done)["completion_reason"] == "meeting_ended"
    entries = stream_of(done)
    speakers = [(e.name, e.state, e.t or 0.0) for e in entries if e.type == "speaker"]
    assert [(name, state) for name, state, _ in speakers] == [
        (name, state) for name in names for state in ("start", "stop")
    ]
    pcm = b"".join(e.pcm or b"" for e in entries if e.type == "audio")
    for (_, _, start), (_, _, stop) in zip(speakers[::2], speakers[1::2], strict=True):
        assert rms(pcm[int(start * SAMPLE_RATE) * 2 : int(stop * SAMPLE_RATE) * 2]) > 1000


def test_it_joins_with_join_now_takes_a_config_change_and_stops_within_two_seconds(
    bot_stack: BotStack, speech: Speech, carol: User, multilingual_model: Path
) -> None:
    native = meet_id()
    bot_stack.load_scenario(
        native_meeting_id=native,
        variant="join_now",
        participants=[
            {
                "name": "Alice",
                "audio": str(speech.alice),
                "at_s": 1.0,
                "chat": [{"at_s": 0.5, "text": "Here is the agenda."}],
            }
        ],
    )
    meeting = send_bot(carol, native, language="en", chat_on_join="This call is transcribed.")
    wait_status(meeting, MeetingStatus.ACTIVE)

    bot_services.bot_update_config(meeting_id=meeting.pk, changes={"language": "es"})
    wait_for(
        lambda: any(e.type == "config" and e.language == "es" for e in stream_of(meeting)),
        timeout_s=3,
        what="the config change in the stream",
    )
    # The bot posts in the meeting's chat what it was asked to on joining, then what it is
    # asked to in the call, and records each as sent.
    bot_services.bot_chat_send(meeting_id=meeting.pk, text="Ask me for the notes.")
    wait_for(
        lambda: {m.status for m in BotChatMessage.objects.filter(meeting=meeting)} == {"sent"},
        timeout_s=10,
        what="the bot to post both messages",
    )
    chat = host_state(bot_stack.base_url, native)["chat"]
    assert [m["text"] for m in chat if m["sender"] == "Vexa Bot"] == [
        "This call is transcribed.",
        "Ask me for the notes.",
    ]
    # It opened the chat's panel and read what Alice posted there (its own posts not again).
    wait_for(
        lambda: ChatMessage.objects.filter(meeting=meeting).exists(),
        timeout_s=10,
        what="Alice's chat message read",
    )
    said = [(m["sender"], m["text"], m["from_bot"]) for m in meeting_chat(meeting=meeting)]
    assert sorted(said) == [
        ("Alice", "Here is the agenda.", False),
        ("Vexa Bot", "Ask me for the notes.", True),
        ("Vexa Bot", "This call is transcribed.", True),
    ]
    # Speech starts 1 s after the simulated call's media connection is up, which can take
    # several seconds on a loaded 2-core machine: the deadline is generous, the stop is timed.
    wait_for(
        lambda: any(e.type == "audio" and rms(e.pcm or b"") > 500 for e in stream_of(meeting)),
        timeout_s=25,
        what="speech in the stream",
    )
    asked = time.monotonic()
    bot_services.bot_stop(meeting_id=meeting.pk)
    done = wait_done(meeting, timeout_s=10)
    took = time.monotonic() - asked

    assert took < 3.0, f"the stop took {took:.2f}s"
    assert path_of(done) == ["requested", "joining", "active", "stopping", "completed"]
    assert last_entry(done)["completion_reason"] == "stopped"
    entries = stream_of(done)
    assert entries[-1].type == "end"
    assert entries[-1].reason == "stopped"
    config = [e for e in entries if e.type == "config"]
    assert [c.language for c in config] == ["en", "es"]
    assert (config[1].t or 0) > 0

    recording = Recording.objects.get(meeting=done)
    key = account_services.token_issue(user=carol, scopes=["tx"]).plain
    whole = httpx.get(
        f"{bot_stack.base_url}/recordings/{recording.pk}/download",
        headers={"X-API-Key": key},
        timeout=10,
    )
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "audio/ogg"
    assert whole.content == Path(recording.file_path).read_bytes()
    part = httpx.get(
        f"{bot_stack.base_url}/recordings/{recording.pk}/download",
        headers={"X-API-Key": key, "Range": "bytes=0-43"},
        timeout=10,
    )
    assert part.status_code == 206
    assert part.content[:4] == b"OggS"
    assert len(part.content) == 44


def admitted_by_the_host(bot_stack: BotStack, speech: Speech, user: User) -> tuple[str, Meeting]:
    """A bot sent to a meeting whose host admits guests by hand, once it is let in."""
    native = meet_id()
    bot_stack.load_scenario(
        native_meeting_id=native,
        admit="manual",
        participants=[{"name": "Alice", "audio": str(speech.alice), "at_s": 0.2}],
    )
    meeting = send_bot(user, native)
    wait_status(meeting, MeetingStatus.AWAITING_ADMISSION)
    waiting = bot_stack.host(native, "admit")
    assert [g["name"] for g in waiting["guests"]] == ["Vexa Bot"]
    wait_status(meeting, MeetingStatus.ACTIVE)
    return native, meeting


def test_it_waits_for_manual_admission_and_completes_when_the_host_ends_the_meeting(
    bot_stack: BotStack, speech: Speech, carol: User
) -> None:
    native, meeting = admitted_by_the_host(bot_stack, speech, carol)
    bot_stack.host(native, "end")

    done = wait_done(meeting)

    assert path_of(done)[-3:] == ["awaiting_admission", "active", "completed"]
    assert last_entry(done)["completion_reason"] == "meeting_ended"


def test_a_bot_that_rejoins_into_the_waiting_room_awaits_admission_again_and_stops_there(
    bot_stack: BotStack, speech: Speech, carol: User
) -> None:
    native, meeting = admitted_by_the_host(bot_stack, speech, carol)
    wait_recording_started(meeting)

    assert processes.browser_signal(bot_stack.worker, part="renderer", sig=signal.SIGKILL)
    # Back in the lobby, where only the host can let it in: the status asks the user to.
    waiting = wait_status(meeting, MeetingStatus.AWAITING_ADMISSION)
    assert last_entry(waiting)["reason"] == "waiting_room_after_rejoin"
    guests = host_state(bot_stack.base_url, native)["guests"]
    assert [guest["state"] for guest in guests] == ["admitted", "waiting"]
    bot_services.bot_stop(meeting_id=meeting.pk)
    done = wait_done(meeting)

    assert path_of(done) == [
        "requested",
        *["joining", "awaiting_admission", "active"],
        *["awaiting_admission", "stopping", "completed"],
    ]
    # It had been in the call: its transcript and recording say so.
    assert last_entry(done)["completion_reason"] == "stopped"
    [rejoin] = done.data["bot_rejoins"]
    assert "resumed_at" not in rejoin  # it was stopped before it was back
    assert Recording.objects.get(meeting=done).status == "completed"


@pytest.mark.parametrize(
    ("scenario", "config", "reason"),
    [
        ({"admit": "deny", "admit_after_s": 0.5}, {}, "awaiting_admission_rejected"),
        # The platform gives up on the lobby ("Return to home screen")...
        ({"admit": "never", "lobby_timeout_s": 1.0}, {}, "awaiting_admission_timeout"),
        # ...or the bot's own waiting-room timer does.
        ({"admit": "manual"}, {"waiting_room": 1}, "awaiting_admission_timeout"),
    ],
    ids=["denied", "lobby-timeout", "waiting-room-timer"],
)
def test_it_completes_without_admission(
    bot_stack: BotStack,
    carol: User,
    scenario: dict[str, Any],
    config: dict[str, Any],
    reason: str,
) -> None:
    native = meet_id()
    bot_stack.load_scenario(native_meeting_id=native, **scenario)
    meeting = send_bot(carol, native, automatic_leave=config)

    done = wait_done(meeting)

    assert path_of(done) == ["requested", "joining", "awaiting_admission", "completed"]
    assert last_entry(done)["completion_reason"] == reason
    assert not MeetingSession.objects.filter(meeting=done).exists()


@pytest.mark.parametrize(
    ("scenario", "config", "reason"),
    [
        (
            {"remove_bot_after_s": 1.5, "participants": [{"name": "Alice"}]},
            {},
            "evicted",
        ),
        (
            {"participants": [{"name": "Alice", "leave_at_s": 1.0}]},
            {"everyone_left": 1},
            "left_alone",
        ),
        ({"participants": []}, {"no_one_joined": 1}, "no_one_joined"),
    ],
    ids=["removed-by-host", "everyone-left", "no-one-joined"],
)
def test_it_leaves_the_call_on_its_own(
    bot_stack: BotStack,
    carol: User,
    scenario: dict[str, Any],
    config: dict[str, Any],
    reason: str,
) -> None:
    native = meet_id()
    bot_stack.load_scenario(native_meeting_id=native, admit_after_s=0.2, **scenario)
    recording_enabled = reason != "no_one_joined"
    meeting = send_bot(carol, native, automatic_leave=config, recording_enabled=recording_enabled)

    done = wait_done(meeting)

    assert path_of(done)[-2:] == ["active", "completed"]
    assert last_entry(done)["completion_reason"] == reason
    assert stream_of(done)[-1].reason == reason
    # `recording_enabled: false` records nothing; otherwise the recording is finished.
    recordings = list(Recording.objects.filter(meeting=done).values_list("status", flat=True))
    assert recordings == (["completed"] if recording_enabled else [])


def test_it_leaves_a_call_that_stays_silent_counting_from_the_last_sound(
    bot_stack: BotStack, speech: Speech, carol: User
) -> None:
    # Alice keeps her tile (no alone timer runs) but says one thing and then nothing: a
    # meeting everybody walked away from. The timeout is long enough for the simulated call's
    # media connection to come up first on a loaded machine (as the hearing check's is).
    native = meet_id()
    bot_stack.load_scenario(
        native_meeting_id=native,
        variant="join_now",
        participants=[{"name": "Alice", "audio": str(speech.alice), "at_s": 0.2}],
    )
    meeting = send_bot(carol, native, automatic_leave={"silence": 5})

    done = wait_done(meeting, timeout_s=40)

    assert path_of(done)[-2:] == ["active", "completed"]
    assert last_entry(done)["completion_reason"] == "silence_timeout"
    audio = [e for e in stream_of(done) if e.type == "audio"]
    loud = [e for e in audio if rms(e.pcm or b"") > 500]
    assert loud, "her speech reached the stream before the bot left"
    last_sound_end = float(loud[-1].t or 0) + len(loud[-1].pcm or b"") / (2 * SAMPLE_RATE)
    audio_end = float(audio[-1].t or 0) + len(audio[-1].pcm or b"") / (2 * SAMPLE_RATE)
    assert 4.5 <= audio_end - last_sound_end <= 7.0


def test_a_stop_in_the_waiting_room_completes_before_admission(
    bot_stack: BotStack, carol: User
) -> None:
    native = meet_id()
    bot_stack.load_scenario(native_meeting_id=native, admit="manual")
    meeting = send_bot(carol, native)
    wait_status(meeting, MeetingStatus.AWAITING_ADMISSION)
    asked = time.monotonic()

    bot_services.bot_stop(meeting_id=meeting.pk)
    done = wait_done(meeting, timeout_s=10)

    assert time.monotonic() - asked < 3.0
    assert path_of(done)[-2:] == ["stopping", "completed"]
    assert last_entry(done)["completion_reason"] == "stopped_before_admission"


def test_a_meeting_that_does_not_exist_fails_with_evidence(
    bot_stack: BotStack, carol: User
) -> None:
    meeting = send_bot(carol, meet_id())

    done = wait_done(meeting)

    assert done.status == MeetingStatus.FAILED
    assert done.data["failure_stage"] == "joining"
    assert "Meeting not found" in done.data["error_details"]["message"]
    evidence = done.data["join_failure_evidence"]
    assert "Meeting not found" in evidence["page_text"]
    assert Path(evidence["screenshot"]).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("lost", ["killed", "cut_off"])
def test_a_lost_bots_meeting_is_taken_over_by_another_bot_and_goes_on(
    bot_stack: BotStack, speech: Speech, carol: User, tmp_path: Path, settings: Any, lost: str
) -> None:
    native = meet_id()
    # Bob speaks after the heartbeat timeout (5 s here) and a new bot's join (a few seconds).
    call_s = two_turns_around(bot_stack, speech, native, pause_s=12.0)
    meeting = unqueued_meeting(carol, native)
    settings.BOT_HEARTBEAT_TIMEOUT_S = 5

    def judged_lost() -> bool:
        if lost == "cut_off":
            # Its heartbeats did not reach the database for a while, though it is in the call.
            old = timezone.now() - timedelta(minutes=5)
            Meeting.objects.filter(pk=meeting.pk).update(bot_heartbeat_at=old)
        return supervision.meetings_supervise().taken_over == [meeting.pk]

    with bot_on_its_own_worker(bot_stack, meeting, tmp_path, name=f"lost-{lost}") as first:
        if lost == "killed":
            processes.stop(first, sig=9)  # the worker, its driver and its Chromium, at once
        wait_for(judged_lost, timeout_s=15, what="the supervisor to hand the meeting over")
        # The suite's bot worker takes it and rejoins the call.
        done = wait_done(meeting, timeout_s=call_s + 20)

    assert done.status == MeetingStatus.COMPLETED, done.data.get("error_details")
    # The new bot went through the waiting room, and the status said so.
    assert path_of(done) == [
        "requested",
        *["joining", "awaiting_admission", "active"],
        *["awaiting_admission", "active"],
        "completed",
    ]
    assert [e["reason"] for e in done.data["status_transition"][4:6]] == [
        "waiting_room_after_rejoin",
        "admitted_again",
    ]
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    [rejoin] = done.data["bot_rejoins"]
    assert "stopped heartbeating" in rejoin["cause"]
    assert rejoin["resumed_at"] > rejoin["timestamp"]  # the new bot was in the call
    # The new bot went on with the stays the lost one stored: one each, from the first join.
    stays = done.data["attendance"]
    assert sorted(stay["name"] for stay in stays) == ["Alice", "Bob"]
    taken_over_at = datetime.fromisoformat(rejoin["timestamp"])
    assert all(datetime.fromisoformat(stay["joined_at"]) < taken_over_at for stay in stays)
    lost_session, taken = MeetingSession.objects.filter(meeting=done).order_by("started_at")
    lost_stream = SessionStream(lost_session.session_uid).read_all()
    assert "bot_lost" in [e.reason for e in lost_stream if e.type == "end"]
    taken_stream = SessionStream(taken.session_uid).read_all()
    speakers = [(e.name, e.state) for e in taken_stream if e.type == "speaker"]
    assert speakers == [("Bob", "start"), ("Bob", "stop")]
    assert taken_stream[-1].reason == "meeting_ended"
    recordings = {r.session_id: r for r in Recording.objects.filter(meeting=done)}
    # Written incrementally: what the lost bot captured plays.
    assert recordings[lost_session.pk].status == "failed"
    assert len(decode_pcm16k(recordings[lost_session.pk].file_path)) > SAMPLE_RATE // 2
    assert recordings[taken.pk].status == "completed"
    if lost == "cut_off":
        # The first bot saw the meeting name another bot and left the call: never two bots.
        guests = host_state(bot_stack.base_url, native)["guests"]
        assert [guest["name"] for guest in guests] == ["Vexa Bot", "Vexa Bot"]
        assert guests[0]["state"] == "left"


def two_turns_around(bot_stack: BotStack, speech: Speech, native: str, *, pause_s: float) -> float:
    """Load Alice's turn, then Bob's `pause_s` after it (the fault goes in that pause, so Bob's
    turn shows the bot still watching the call, not only still capturing); returns the
    seconds of the call by the end of Bob's turn."""
    bob_at = 0.2 + wav_seconds(speech.alice) + pause_s
    bob_end = bob_at + wav_seconds(speech.bob)
    bot_stack.load_scenario(
        native_meeting_id=native,
        participants=[
            {"name": "Alice", "audio": str(speech.alice), "at_s": 0.2},
            {"name": "Bob", "audio": str(speech.bob), "at_s": bob_at},
        ],
        end_after_s=bob_end + 0.8,
    )
    return bob_end


def assert_both_turns_whole(done: Meeting, entries: list[StreamEntry], call_s: float) -> None:
    """Completed as the meeting ended, both turns' speakers, and the audio without a gap."""
    assert done.status == MeetingStatus.COMPLETED, done.data.get("error_details")
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    speakers = [(e.name, e.state) for e in entries if e.type == "speaker"]
    assert speakers == [("Alice", "start"), ("Alice", "stop"), ("Bob", "start"), ("Bob", "stop")]
    audio = [e for e in entries if e.type == "audio"]
    for before, after in itertools.pairwise(audio):
        assert after.t == pytest.approx((before.t or 0) + before.duration_s, abs=1e-3)
    assert sum(e.duration_s for e in audio) > call_s
    assert entries[-1].type == "end"


def test_a_bot_whose_connections_drop_mid_call_reconnects_and_finishes_the_meeting(
    bot_stack: BotStack, speech: Speech, carol: User
) -> None:
    native = meet_id()
    call_s = two_turns_around(bot_stack, speech, native, pause_s=3.0)
    meeting = send_bot(carol, native)
    wait_status(meeting, MeetingStatus.ACTIVE)
    wait_recording_started(meeting)

    # Its database connections (the bot's and its audio pump's) and its Redis ones (the stream,
    # the control channel's subscriber), as a restart, a failover or a network blip drops them.
    assert processes.database_connections_drop(bot_stack.worker) >= 2
    assert processes.redis_connections_drop(bot_stack.worker) >= 2
    # Subscribed again: a stop request still reaches it at once.
    channel = control_channel(meeting.pk)
    wait_for(
        lambda: get_redis().pubsub_numsub(channel) == [(channel.encode(), 1)],
        timeout_s=5,
        what="the bot to subscribe to its control channel again",
    )

    done = wait_done(meeting)
    entries = stream_of(done)
    assert_both_turns_whole(done, entries, call_s)
    recording = Recording.objects.get(meeting=done)
    assert recording.status == "completed"
    captured_s = sum(e.duration_s for e in entries if e.type == "audio")
    assert recording.duration_s == pytest.approx(captured_s, abs=0.2)
    assert MeetingSession.objects.get(meeting=done).ended_at is not None


def test_a_bot_carries_on_through_a_redis_restart(
    bot_stack: BotStack, speech: Speech, carol: User, tmp_path: Path
) -> None:
    from bots.tasks import run_bot

    native = meet_id()
    outage_s = 2.5  # longer than redis-py's own retries last (about a second)
    call_s = two_turns_around(bot_stack, speech, native, pause_s=outage_s + 2.0)
    meeting = unqueued_meeting(carol, native)
    # The bot's own Redis (broker, stream, control channel), so that restarting it leaves the
    # suite's alone; the simulated meeting keeps running on the suite's.
    with (
        processes.redis_server(tmp_path) as server,
        processes.celery_worker(
            "bots",
            pool="threads",
            name="restarted",
            env={**stack_env(bot_stack.base_url, tmp_path), "REDIS_URL": server.url},
        ),
        celery_app.connection_for_write(server.url) as broker,
    ):
        run_bot.apply_async(args=[meeting.pk], connection=broker)
        wait_status(meeting, MeetingStatus.ACTIVE)
        wait_recording_started(meeting)
        server.restart(down_s=outage_s)
        done = wait_done(meeting, timeout_s=call_s + 20)
        entries = SessionStream(
            MeetingSession.objects.get(meeting=meeting).session_uid,
            client=redis.Redis.from_url(server.url),
        ).read_all()

    # What was captured while Redis was down was written once it was back, in order.
    assert_both_turns_whole(done, entries, call_s)


def test_a_recording_that_cannot_be_written_fails_and_the_call_goes_on(
    bot_stack: BotStack, speech: Speech, carol: User, tmp_path: Path
) -> None:
    native = meet_id()
    call_s = two_turns_around(bot_stack, speech, native, pause_s=3.0)
    meeting = unqueued_meeting(carol, native)
    # Its own worker: the file-size limit below stays with the process.
    with bot_on_its_own_worker(bot_stack, meeting, tmp_path, name="full-disk") as worker:
        recording = Recording.objects.get(meeting=meeting)
        # The disk fills up: the file may grow by 4 KB more (writes past it fail, EFBIG, as
        # they would with ENOSPC).
        limit = Path(recording.file_path).stat().st_size + 4096
        resource.prlimit(worker.pid, resource.RLIMIT_FSIZE, (limit, limit))
        done = wait_done(meeting, timeout_s=call_s + 20)

    assert_both_turns_whole(done, stream_of(done), call_s)
    recording.refresh_from_db()
    assert recording.status == "failed"
    assert Path(recording.file_path).stat().st_size <= limit
    assert recording.size_bytes == Path(recording.file_path).stat().st_size


def test_a_bot_whose_page_crashes_hangs_or_loses_its_browser_or_driver_rejoins_and_hears_the_rest(
    bot_stack: BotStack, speech: Speech, carol: User, tmp_path: Path
) -> None:
    native = meet_id()
    # Each fault falls in a pause that outlasts the rejoin (a new page, the lobby, the call):
    # 1.5 s here, and a hung page is taken as lost after two scans without an answer (2 s
    # each here, `BOT_PAGE_SCAN_TIMEOUT_S`).
    faults = [
        ("the meeting page crashed", "renderer", signal.SIGKILL, 4.0),
        ("the meeting page closed (its browser exited)", "browser", signal.SIGKILL, 4.0),
        ("the meeting page is gone (its browser or driver exited)", "driver", signal.SIGKILL, 5.0),
        (
            "the meeting page stopped responding (2 scans timed out)",
            "renderer",
            signal.SIGSTOP,
            8.0,
        ),
    ]
    turns: list[tuple[str, Path, float]] = []  # who, what, when
    at = 0.2
    in_turn = itertools.cycle([("Alice", speech.alice), ("Bob", speech.bob)])
    for (name, source), pause_s in zip(in_turn, [*(f[3] for f in faults), 0.0], strict=False):
        turns.append((name, source, at))
        at += wav_seconds(source) + pause_s
    # Each speaker also writes in the chat as their turn starts: read once each, whichever page
    # (of the five) shows it.
    bot_stack.load_scenario(
        native_meeting_id=native,
        participants=[
            {
                "name": name,
                "audio": str(source),
                "at_s": when,
                "chat": [{"at_s": when + 0.3, "text": f"turn {index}"}],
            }
            for index, (name, source, when) in enumerate(turns)
        ],
        end_after_s=at + 0.8,
    )
    meeting = unqueued_meeting(carol, native)

    def turns_ended(count: int) -> bool:
        return sum(e.type == "speaker" and e.state == "stop" for e in stream_of(meeting)) >= count

    hung: list[psutil.Process] = []
    rejoins = str(len(faults))
    with bot_on_its_own_worker(
        bot_stack,
        meeting,
        tmp_path,
        name="crashing",
        BOT_MAX_REJOINS=rejoins,
        BOT_PAGE_SCAN_TIMEOUT_S="2",
    ) as worker:
        for ended, (_, part, sig, _) in enumerate(faults, start=1):
            wait_for(functools.partial(turns_ended, ended), timeout_s=30, what=f"turn {ended}")
            signalled = processes.browser_signal(worker, part=part, sig=sig)
            assert signalled
            if sig == signal.SIGSTOP:
                hung += signalled
        done = wait_done(meeting, timeout_s=at + 20)
        for process in hung:  # a stopped process takes no signal but SIGKILL: end it
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()

    assert done.status == MeetingStatus.COMPLETED, done.data.get("error_details")
    # Each rejoin went through the waiting room again (as a guest who reloads Meet does): the
    # status said so while the bot waited to be let in, and each rejoin says why.
    assert path_of(done) == [
        "requested",
        *["joining", "awaiting_admission", "active"],
        *["awaiting_admission", "active"] * len(faults),
        "completed",
    ]
    assert [e["reason"] for e in done.data["status_transition"][4:-1]] == [
        "waiting_room_after_rejoin",
        "admitted_again",
    ] * len(faults)
    assert last_entry(done)["completion_reason"] == "meeting_ended"
    assert [rejoin["cause"] for rejoin in done.data["bot_rejoins"]] == [f[0] for f in faults]
    # Back in the call each time, within the pause the fault fell in.
    for rejoin, fault in zip(done.data["bot_rejoins"], faults, strict=True):
        lost, back = (datetime.fromisoformat(rejoin[k]) for k in ("timestamp", "resumed_at"))
        assert timedelta(0) < back - lost < timedelta(seconds=fault[3]), rejoin
    # Nobody left while the bot was away: one stay each.
    assert sorted(entry["name"] for entry in done.data["attendance"]) == ["Alice", "Bob"]
    said = [(m.sender, m.text) for m in ChatMessage.objects.filter(meeting=done)]
    assert said == [(name, f"turn {index}") for index, (name, _, _) in enumerate(turns)]
    entries = stream_of(done)  # one session
    speakers = [(e.name, e.state, e.t or 0.0) for e in entries if e.type == "speaker"]
    assert [(name, state) for name, state, _ in speakers] == [
        (name, state) for name, _, _ in turns for state in ("start", "stop")
    ]
    starts = [t for _, state, t in speakers if state == "start"]
    stops = [t for _, state, t in speakers if state == "stop"]
    # The session's clock ran on while the bot was away: the turns are as far apart as spoken.
    for start, (_, _, when) in zip(starts, turns, strict=True):
        assert start - starts[0] == pytest.approx(when - turns[0][2], abs=0.5), speakers
    audio = [e for e in entries if e.type == "audio"]
    gaps = [
        (after.t or 0) - (before.t or 0) - before.duration_s
        for before, after in itertools.pairwise(audio)
    ]
    assert min(gaps) > -1e-3
    rejoin_gaps = [gap for gap in gaps if gap > 1e-3]
    assert len(rejoin_gaps) == len(faults)
    # How far the capture clock drifted from the wall clock, once per 30 s from the first 30 s
    # on (bots.runtime.wallclock): small, the rejoins' gaps taken on the session's clock.
    clocks = [e for e in entries if e.type == "clock"]
    assert clocks, "no clock entry"
    assert clocks[0].t is not None
    assert clocks[0].t >= 30
    assert all(abs(c.wall_offset or 0.0) < 0.3 for c in clocks), clocks
    assert all(gap < fault[3] for gap, fault in zip(rejoin_gaps, faults, strict=True)), rejoin_gaps

    # One recording on the session's clock, the gaps filled with silence, every turn whole in it.
    recording = Recording.objects.get(meeting=done)
    assert recording.status == "completed"
    pcm = decode_pcm16k(recording.file_path)
    audio_end = (audio[-1].t or 0) + audio[-1].duration_s
    assert len(pcm) / (2 * SAMPLE_RATE) == pytest.approx(audio_end, abs=0.2)
    for start, stop, (_, source, _) in zip(starts, stops, turns, strict=True):
        window = turn_window(pcm, start=start, stop=stop)
        assert voiced_span_s(window) == pytest.approx(
            voiced_span_s(read_wav_pcm16k(source)), rel=0.05
        ), speakers


def test_a_bot_whose_capture_hears_silence_while_someone_speaks_fails_with_the_reason(
    bot_stack: BotStack, carol: User, tmp_path: Path
) -> None:
    native = meet_id()
    # The page shows Alice speaking for 12 s while her audio is digital silence: what a bot
    # whose capture broke would record (BROWSER.md: chunks keep arriving either way).
    mute = make_silence_wav(tmp_path / "mute.wav", seconds=12)
    bot_stack.load_scenario(
        native_meeting_id=native,
        variant="join_now",
        participants=[{"name": "Alice", "audio": str(mute), "at_s": 0.5}],
    )
    meeting = send_bot(carol, native)

    done = wait_done(meeting)

    assert done.status == MeetingStatus.FAILED
    assert path_of(done) == ["requested", "joining", "active", "failed"]
    assert done.data["failure_stage"] == "active"
    message = done.data["error_details"]["message"]
    assert "silent though the page showed Alice speaking" in message
    assert stream_of(done)[-1].type == "end"
