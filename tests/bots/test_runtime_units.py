"""Pieces of the bot runtime that need no browser: timers, page classification, URLs, flags."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import User
from bots import services as bot_services
from bots.adapters.base import Phase, classify
from bots.adapters.google_meet import TABLE
from bots.runtime import browser
from bots.runtime.attendance import LEAVE_GRACE_S, Attendance
from bots.runtime.bot import BotRun
from bots.runtime.captions import CaptionSpeakers
from bots.runtime.chat import ChatReader
from bots.runtime.outcome import BotFailure
from bots.runtime.tab import meeting_target_url
from bots.runtime.timers import AutomaticLeave, LeaveTimers
from bots.runtime.wallclock import WallClockSync
from meetings.models import Meeting
from meetings.stream import SAMPLE_RATE, SessionStream
from tests.bots.conftest import wait_for
from tests.meetings.builders import meeting_in
from transcripts import realtime


def test_automatic_leave_reads_seconds_and_vexas_milliseconds_with_defaults() -> None:
    policy = AutomaticLeave.from_config(
        {"automatic_leave": {"waiting_room": 30, "everyone_left_timeout": 5000, "bogus": 1}}
    )

    assert policy.waiting_room_timeout_s == 30
    assert policy.everyone_left_timeout_s == 5
    assert policy.no_one_joined_timeout_s == 120
    assert policy.max_duration_s == 7200
    assert AutomaticLeave.from_config({"automatic_leave": {"waiting_room": -3}}) == AutomaticLeave()


def test_a_momentary_count_of_zero_does_not_end_the_meeting() -> None:
    timers = LeaveTimers(AutomaticLeave(everyone_left_timeout_s=10), admitted_at=0.0)

    assert timers.observe(2, 1.0) is None
    assert timers.observe(0, 2.0) is None  # tiles re-rendering
    assert timers.observe(2, 2.5) is None
    assert timers.observe(0, 3.0) is None
    assert timers.observe(0, 12.9) is None
    assert timers.observe(0, 13.0) == "left_alone"


def test_no_one_joined_counts_from_admission_and_max_duration_caps_everything() -> None:
    lonely = LeaveTimers(AutomaticLeave(no_one_joined_timeout_s=5), admitted_at=100.0)
    capped = LeaveTimers(AutomaticLeave(max_duration_s=60), admitted_at=0.0)

    assert lonely.observe(0, 104.0) is None
    assert lonely.observe(0, 105.0) == "no_one_joined"
    assert capped.observe(3, 59.0) is None
    assert capped.observe(3, 60.0) == "max_bot_time_exceeded"


def test_silence_counts_from_the_last_sound_or_admission_with_people_present() -> None:
    timers = LeaveTimers(AutomaticLeave(silence_timeout_s=10), admitted_at=100.0)

    assert timers.observe(2, 109.0) is None
    assert timers.observe(2, 110.0) == "silence_timeout"  # never a sound since admission
    assert timers.observe(2, 119.0, heard_at=109.5) is None
    assert timers.observe(2, 119.5, heard_at=109.5) == "silence_timeout"
    assert AutomaticLeave.from_config({"automatic_leave": {"silence": 30}}).silence_timeout_s == 30
    assert AutomaticLeave().silence_timeout_s == 1800


def raw(**fields: Any) -> dict[str, Any]:
    return {"found": {}, "indicators": [], "participants": [], "clock": 0, **fields}


def test_the_lobby_is_never_taken_for_admission() -> None:
    lobby_text = {"lobby": "Asking to be let in"}
    two = ['[role="toolbar"]', 'button[aria-label*="People"]']

    assert classify(raw(found=lobby_text, indicators=two), TABLE).phase is Phase.LOBBY
    assert classify(raw(indicators=two[:1]), TABLE).phase is Phase.UNKNOWN
    assert classify(raw(indicators=two), TABLE).phase is Phase.IN_CALL


def test_dead_end_texts_count_only_once_the_call_ui_is_gone() -> None:
    chat_says_ended = raw(found={"ended": "Meeting ended"}, indicators=["a", "b"])
    removed = raw(
        found={"removed": "You've been removed", "lobby_timeout": "Return to home screen"}
    )
    timed_out = raw(found={"lobby_timeout": "Return to home screen"})

    assert classify(chat_says_ended, TABLE).phase is Phase.IN_CALL
    assert classify(removed, TABLE).phase is Phase.REMOVED
    assert classify(timed_out, TABLE).phase is Phase.LOBBY_TIMEOUT
    assert classify(raw(found={"rejected": "You can't join"}), TABLE).phase is Phase.REJECTED
    assert classify(raw(name_field=True), TABLE).phase is Phase.PREJOIN


def test_the_bot_is_not_one_of_the_others() -> None:
    snap = classify(
        raw(
            indicators=["a", "b"],
            participants=[
                {"participant_id": "1", "name": "Vexa Bot", "speaking": False},
                {"participant_id": "2", "name": "Alice", "speaking": True},
            ],
        ),
        TABLE,
    )

    assert [p.name for p in snap.others("Vexa Bot")] == ["Alice"]


@pytest.mark.django_db
def test_the_bot_opens_the_simulator_a_template_or_the_real_url() -> None:
    user = User.objects.create_user("dave@example.com")
    meeting = Meeting(
        user=user,
        platform="google_meet",
        native_meeting_id="abc-defg-hij",
        constructed_meeting_url="https://meet.google.com/abc-defg-hij",
    )
    teams = Meeting(
        user=user,
        platform="teams",
        native_meeting_id="123456789012",
        bot_config={"passcode": "x y"},
    )

    with override_settings(PLATFORM_URLS="simulator", PUBLIC_BASE_URL="http://sim:8000"):
        assert meeting_target_url(meeting) == "http://sim:8000/simulator/google_meet/abc-defg-hij"
        assert meeting_target_url(teams).endswith("/simulator/teams/123456789012?p=x%20y")
    with override_settings(PLATFORM_URLS={"google_meet": "https://meet.test/{native_meeting_id}"}):
        assert meeting_target_url(meeting) == "https://meet.test/abc-defg-hij"
    with override_settings(PLATFORM_URLS=""):
        assert meeting_target_url(meeting) == "https://meet.google.com/abc-defg-hij"
        with pytest.raises(BotFailure):
            meeting_target_url(teams)


def test_our_disabled_features_are_merged_into_playwrights_single_flag() -> None:
    theirs = browser.playwright_disabled_features()
    options = browser.launch_options()
    flags = [a for a in options["args"] if a.startswith("--disable-features=")]

    assert "MediaRouter" in theirs
    assert len(flags) == 1
    merged = flags[0].split("=", 1)[1].split(",")
    assert set(theirs) | set(browser.OUR_DISABLED_FEATURES) == set(merged)
    assert "WebRtcHideLocalIpsWithMdns" in merged
    assert "AudioServiceOutOfProcess" not in merged  # in process, the audio clocks lose time
    assert options["ignore_default_args"] == [f"--disable-features={','.join(theirs)}"]
    assert {"--no-sandbox", "--in-process-gpu", "--disable-quic"} <= set(options["args"])


@pytest.fixture
def pump_run() -> Iterator[BotRun]:
    """A bot run with its session stream, as at admission, but no page: the pump needs none."""
    host = browser.BrowserHost()
    run = BotRun(0, host=host)
    run.stream = SessionStream(f"pump-{uuid.uuid4().hex}")
    yield run
    run.stream.redis.delete(run.stream.key)
    host.shutdown()


def test_the_audio_pump_writes_each_chunk_as_it_arrives_and_what_is_queued_before_it_ends(
    pump_run: BotRun,
) -> None:
    stream = pump_run.stream
    assert stream is not None
    pump = pump_run.audio
    pump.start(stream, None)
    chunk = b"\x01\x00" * 1600

    # As the page's binding does; the bot's own thread is not ticking here, so only the pump
    # can write it.
    pump.chunks.put((0, chunk, 1000.15))
    wait_for(lambda: stream.read_all(), timeout_s=5, what="the first chunk")
    pump.chunks.put((1600, chunk, 1000.25))
    pump.chunks.put((4800, chunk, 1000.45))  # after a gap the page reported
    pump.stop()

    audio = [e for e in stream.read_all() if e.type == "audio"]
    assert [(e.t, e.pcm) for e in audio] == [(0.0, chunk), (0.1, chunk), (0.3, chunk)]
    assert pump_run.clock == pytest.approx(0.4)
    assert pump.thread is not None
    assert not pump.thread.is_alive()


def test_the_pump_writes_the_capture_clocks_drift_before_the_audio_it_applies_to(
    pump_run: BotRun,
) -> None:
    assert pump_run.stream is not None
    chunk = b"\x01\x00" * 1600
    second = SAMPLE_RATE
    # Each chunk arrives 0.1 s after its end, plus how far the capture clock fell behind.
    for t_s, behind_s in [(0, 0.0), (15, 0.01), (30, 0.03), (45, 0.05), (60, 0.07)]:
        pump_run.audio.chunks.put((t_s * second, chunk, 1000.0 + t_s + 0.1 + 0.1 + behind_s))
    pump_run.audio.start(pump_run.stream, None)
    pump_run.audio.stop()

    entries = [e for e in pump_run.stream.read_all() if e.type == "clock" or e.t in (30, 60)]
    # From the first window's lag on: 0 at 30 s, then the second window's smallest lag.
    assert [(e.type, e.t, e.wall_offset) for e in entries] == [
        ("clock", 30.0, 0.0),
        ("audio", 30.0, None),
        ("clock", 60.0, pytest.approx(0.03)),
        ("audio", 60.0, None),
    ]


def test_the_drift_estimate_follows_a_slow_capture_clock_and_shrugs_off_a_stalled_window() -> None:
    rng = random.Random(7)
    sync = WallClockSync()
    rate = 1.0012  # wall seconds per capture second: 4.3 s an hour behind
    offset = 0.0
    errors: list[tuple[float, float]] = []
    for index in range(6000):  # 10 minutes of 100 ms chunks
        t = index * 0.1
        delay = 0.03 + rng.uniform(0.0, 0.14)  # delivery, as measured (BROWSER.md)
        if 150 <= t < 180:
            delay += 5.0  # the browser loop stalled for a whole window
        written = sync.observe(t=t, duration_s=0.1, arrived=(t + 0.1) * rate + delay)
        if written is not None:
            offset = written
        errors.append((t, abs(t + offset - t * rate)))

    assert max(error for t, error in errors if t < 180) < 0.08
    assert max(error for _, error in errors) < 0.25  # the stall moved it one step at most
    assert max(error for t, error in errors if t >= 240) < 0.08
    assert errors[-1][1] < 0.08  # uncorrected: 0.72 s by now


def test_a_failed_audio_write_fails_the_bot_instead_of_losing_audio_silently(
    pump_run: BotRun,
) -> None:
    assert pump_run.stream is not None
    pump_run.audio.start(pump_run.stream, None)
    pump_run.audio.chunks.put((0, b"\x01", 1000.0))  # half a sample: the stream refuses it

    wait_for(lambda: pump_run.audio.error is not None, timeout_s=5, what="the pump's error")
    with pytest.raises(BotFailure, match="writing the audio failed"):
        pump_run._watch()


def test_caption_rows_become_speaker_turns_moved_back_by_the_lag_and_ended_by_the_hold() -> None:
    captions = CaptionSpeakers(lag_s=0.8, hold_s=1.0)
    history = (("Alice", "earlier words"),)
    ignore = {"Vexa Bot"}

    primed = captions.observe(history, 5.0, ignore=ignore)
    bob_starts = captions.observe((*history, ("Bob", "so")), 6.0, ignore=ignore)
    bob_goes_on = captions.observe((*history, ("Bob", "so the plan")), 6.5, ignore=ignore)
    still = captions.observe((*history, ("Bob", "so the plan")), 7.0, ignore=ignore)
    bob_stops = captions.observe((*history, ("Bob", "so the plan")), 7.5, ignore=ignore)
    with_tile = captions.observe(
        (("Carol", "hi"), ("Vexa Bot", "x")), 8.0, ignore={*ignore, "Carol"}
    )

    assert primed == []  # rows already shown when captions came on are history
    assert [(e.name, e.state, round(e.t, 3)) for e in bob_starts] == [("Bob", "start", 5.2)]
    assert bob_goes_on == still == []
    assert [(e.name, e.state, round(e.t, 3)) for e in bob_stops] == [("Bob", "stop", 5.7)]
    assert with_tile == []  # people with a tile (and the bot) are left to the tiles


def test_chat_rows_are_read_once_each_across_scans_re_renders_and_repeated_messages() -> None:
    reader = ChatReader()
    own = {"Vexa Bot", "You"}
    alice = ("Alice", "The deck: https://example.com/deck")

    first = reader.observe([alice], own=own)
    again = reader.observe([alice], own=own)
    with_own = reader.observe([alice, ("You", "Transcribing"), ("", "unnamed")], own=own)
    plus_ones = reader.observe([alice, ("Bob", "+1"), ("Bob", "+1")], own=own)
    # A panel listing only its tail (a virtualized list) or the whole chat again (Teams after
    # a rejoin) repeats what was read; a third "+1" is new.
    tail = reader.observe([("Bob", "+1")], own=own)
    third = reader.observe([alice, ("Bob", "+1"), ("Bob", "+1"), ("Bob", "+1")], own=own)
    emptied = reader.observe([], own=own)  # Meet after a rejoin: only what comes next
    after = reader.observe([("Carol", "Sorry, I was late")], own=own)

    assert first == [alice]
    assert again == with_own == tail == emptied == []  # the bot's own are the API's own
    assert plus_ones == [("Bob", "+1"), ("Bob", "+1")]
    assert third == [("Bob", "+1")]
    assert after == [("Carol", "Sorry, I was late")]


def test_people_coming_and_going_are_announced_once_and_not_when_the_bot_leaves(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    meeting = meeting_in(alice, "active")
    log = realtime.meeting_event_log_key(meeting)
    realtime.redis_client().delete(log)  # an earlier run's user with this id left events there
    ann: dict[str, Any] = {"name": "Ann", "joined_at": "2026-12-08T10:00:00Z", "left_at": None}
    ben: dict[str, Any] = {"name": "Ben", "joined_at": "2026-12-08T10:00:03Z", "left_at": None}
    # Ben's second stay: he came back after the grace.
    back = {"name": "Ben", "joined_at": "2026-12-08T10:02:00Z", "left_at": "2026-12-08T10:02:30Z"}
    saves: list[list[dict[str, Any]]] = [
        [ann],
        [ann, ben],
        [ann, ben],  # nothing new: nothing said
        [ann, {**ben, "left_at": "2026-12-08T10:01:00Z"}, back],
    ]
    ended = [{**ann, "left_at": "2026-12-08T10:03:00Z"}, *saves[-1][1:]]
    with django_capture_on_commit_callbacks(execute=True):
        for attendance in saves:
            bot_services.bot_attendance_record(meeting_id=meeting.pk, attendance=attendance)
        bot_services.bot_attendance_record(meeting_id=meeting.pk, attendance=ended, announce=False)

    said = [
        (message["type"], message["payload"]["name"], message["payload"]["timestamp"])
        for _, message in realtime.event_log_entries(log)
    ]
    assert said == [
        ("participant.joined", "Ann", "2026-12-08T10:00:00Z"),
        ("participant.joined", "Ben", "2026-12-08T10:00:03Z"),
        ("participant.left", "Ben", "2026-12-08T10:01:00Z"),
        ("participant.joined", "Ben", "2026-12-08T10:02:00Z"),
        ("participant.left", "Ben", "2026-12-08T10:02:30Z"),
    ]
    assert Meeting.objects.get(pk=meeting.pk).data["attendance"] == ended


def watch(attendance: Attendance, scans: list[tuple[float, list[str]]]) -> list[bool]:
    """Page scans at (seconds, names shown); what `observe` said of each."""
    start = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    return [
        attendance.observe(names, now=at, wall=start + timedelta(seconds=at)) for at, names in scans
    ]


def test_attendance_spans_each_stay_from_first_to_last_sight_across_a_flickering_tile() -> None:
    attendance = Attendance()
    scans = [(i * 0.2, ["Alice", "Bob"]) for i in range(10)]  # 0-1.8 s: both
    scans += [(2.0, []), (2.2, ["Alice", "Bob"])]  # a momentary empty list
    scans += [(2.4 + i * 0.2, ["Alice"]) for i in range(40)]  # Bob gone from 2.4 s on
    changes = watch(attendance, scans)

    assert changes[0] is True  # both arrived
    assert not any(changes[1:12])  # the flicker changed nothing
    gone_at = next(at for (at, _), changed in zip(scans[12:], changes[12:], strict=True) if changed)
    assert gone_at == pytest.approx(2.2 + LEAVE_GRACE_S, abs=0.21)
    attendance.close(wall=datetime(2026, 12, 6, 12, 0, 20, tzinfo=UTC))
    assert attendance.as_data() == [
        {"name": "Alice", "joined_at": "2026-12-06T12:00:00Z", "left_at": "2026-12-06T12:00:20Z"},
        {
            "name": "Bob",
            "joined_at": "2026-12-06T12:00:00Z",
            "left_at": "2026-12-06T12:00:02.200000Z",
        },
    ]


def test_attendance_does_not_count_time_unwatched_and_a_return_is_a_new_stay() -> None:
    attendance = Attendance()
    watch(attendance, [(0.0, ["Alice"]), (0.2, ["Alice"])])
    # The bot rejoins for 12 s: Alice is not shown at its first scan back, then she is.
    assert watch(attendance, [(12.2, []), (12.4, ["Alice"])]) == [False, False]
    # She leaves, and comes back after the grace: two stays.
    watch(attendance, [(12.6 + i * 0.2, []) for i in range(30)])
    assert watch(attendance, [(20.0, ["Alice"])]) == [True]
    attendance.close(wall=datetime(2026, 12, 6, 12, 0, 21, tzinfo=UTC))
    assert [(e["joined_at"], e["left_at"]) for e in attendance.as_data()] == [
        ("2026-12-06T12:00:00Z", "2026-12-06T12:00:12.400000Z"),
        ("2026-12-06T12:00:20Z", "2026-12-06T12:00:21Z"),
    ]


def test_a_bot_taking_over_goes_on_with_the_stays_the_lost_bot_stored() -> None:
    stored = Attendance()
    watch(stored, [(0.0, ["Alice", "Bob", "Chen"]), (0.2, ["Alice", "Bob"])])
    watch(stored, [(0.4 + i * 0.2, ["Alice", "Bob"]) for i in range(30)])  # Chen left
    taken_at = datetime(2026, 12, 6, 12, 1, tzinfo=UTC)

    resumed = Attendance.resumed([*stored.as_data(), {"name": 3}], wall=taken_at)
    # Back in the call: Alice is there, Bob is not any more.
    later = taken_at + timedelta(seconds=30)
    watch_at = [(100.0 + i * 0.2, ["Alice"]) for i in range(30)]
    for at, names in watch_at:
        resumed.observe(names, now=at, wall=later)
    resumed.close(wall=later)

    assert [(e["name"], e["joined_at"], e["left_at"]) for e in resumed.as_data()] == [
        ("Alice", "2026-12-06T12:00:00Z", "2026-12-06T12:01:30Z"),
        ("Bob", "2026-12-06T12:00:00Z", "2026-12-06T12:01:00Z"),
        ("Chen", "2026-12-06T12:00:00Z", "2026-12-06T12:00:00Z"),
    ]


@pytest.mark.django_db
def test_a_takeover_is_claimed_once_and_goes_on_from_what_the_lost_bot_left(alice: User) -> None:
    meeting = meeting_in(alice, "active")
    bot_services.bot_chat_read(meeting_id=meeting.pk, messages=[("Bob", "hi"), ("Bob", "+1")])
    stays = [{"name": "Bob", "joined_at": "2026-12-06T12:00:00Z", "left_at": None}]
    rejoins = [{"timestamp": "2026-12-06T12:05:00Z", "cause": "the meeting page crashed"}] * 2
    Meeting.objects.filter(pk=meeting.pk).update(
        bot_container_id="takeover:t1",
        data={**meeting.data, "bot_rejoins": rejoins, "attendance": stays},
    )
    meeting.refresh_from_db()
    host = browser.BrowserHost()
    try:
        first = BotRun(meeting.pk, host=host, takeover="takeover:t1")
        second = BotRun(meeting.pk, host=host, takeover="takeover:t1")
        stale = BotRun(meeting.pk, host=host, takeover="takeover:t0")

        assert first._claim_takeover(meeting)
        assert not second._claim_takeover(meeting)  # a second delivery of the same task
        assert not stale._claim_takeover(meeting)
    finally:
        host.shutdown()

    assert Meeting.objects.get(pk=meeting.pk).bot_container_id == first.container
    # The lost bot's rejoins count against `BOT_MAX_REJOINS` with this bot's own.
    assert first.rejoins == 2
    assert [stay["name"] for stay in first.attendance.as_data()] == ["Bob"]
    assert first.attendance.as_data()[0]["left_at"] is None
    # The chat the lost bot read is not read again when the panel lists it.
    assert first.chat.reader.observe([("Bob", "hi"), ("Bob", "+1")], own=set()) == []
