"""One bot run: from `requested` to `completed`/`failed`, driven from a Celery task thread.

The bot's logic is plain synchronous code in the task's thread (database, Redis, the stream and
the recording); every browser action is a coroutine run on the process's shared browser loop
(`BrowserHost.run`). Its parts: the tab it joins from (`tab.MeetingTab`), whose capture's
audio chunks reach the audio pump's thread through a Playwright binding (`pump.AudioPump`,
which writes each to the session stream and the recording as it arrives: waiting for this
thread's next tick would add up to `TICK_S` to every word's latency), speakers from tiles and
live captions (`captions`), attendance (`attendance`), the meeting's chat (`chat.MeetingChat`)
and the leave timers (`timers`).

The database is the truth: a stop or config change is seen by re-reading the meeting row when
`notify_bot` rings (Redis pub/sub) and at least every `REREAD_EVERY_S` without it.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from bots import selectors as bot_selectors
from bots import services as bot_services
from bots.adapters import adapter_for
from bots.adapters.base import JoinError, PageSnapshot, Phase, PlatformAdapter
from bots.control import control_channel
from bots.runtime.attendance import Attendance
from bots.runtime.browser import BrowserHost, get_host
from bots.runtime.captions import CaptionSpeakers
from bots.runtime.chat import MeetingChat
from bots.runtime.outcome import BotFailure, Finish
from bots.runtime.pump import AudioPump
from bots.runtime.recording import RecordingWriter
from bots.runtime.tab import LEAVE_TIMEOUT_S, NAVIGATION_TIMEOUT_S, MeetingTab, meeting_target_url
from bots.runtime.timers import AutomaticLeave, LeaveTimers
from meetings import lifecycle
from meetings.models import Meeting, MeetingSession, MeetingStatus, RecordingStatus
from meetings.stream import SAMPLE_RATE, SessionStream
from vexa_site.db import db_retry
from vexa_site.redis import get_job_redis, get_redis

logger = logging.getLogger(__name__)

# The `source` of the bot's own status changes, as Vexa's status history names them (seed 002).
BOT_SOURCE = "bot_callback"
TICK_S = 0.2
REREAD_EVERY_S = 2.0
# Posting one chat message: open the panel, type, send, see the box empty.
CHAT_POST_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 30.0
# After clicking join, the page must show a waiting room or the call within this time.
AFTER_JOIN_TIMEOUT_S = 30.0
# How often an admitted bot without the call's audio tries the next step towards it (a click
# opens a dialog, which takes a moment to show).
AUDIO_JOIN_RETRY_S = 0.5
# How often a bot with the call's audio checks it still has it (Zoom can drop computer audio,
# the footer offering "Join Audio" again).
AUDIO_RECHECK_S = 2.0
# Live captions are tried this long after admission, then left (speakers come from tiles only).
CAPTIONS_TRY_S = 15.0
# Speech indicated less than this after the last audible audio is not yet "unheard" (indicators
# and audio reach the bot with different delays, and speech has short pauses).
HEARING_SLACK_S = 1.5
# Consecutive failed page scans (a page that keeps failing) before the bot takes it as lost.
MAX_SCAN_FAILURES = 15
# Page scans with no answer within `BOT_PAGE_SCAN_TIMEOUT_S`, in a row, that make a hung page.
MAX_SCAN_TIMEOUTS = 2
# Who is in the call is stored at most this often (a crowd arriving is one write a second).
ATTENDANCE_SAVE_EVERY_S = 1.0


def heartbeat_interval_s() -> float:
    return max(1.0, min(5.0, settings.BOT_HEARTBEAT_TIMEOUT_S / 3))


class BotRun:
    """Drives one meeting's bot. `run()` returns a short outcome word for the task log."""

    def __init__(
        self, meeting_id: int, *, host: BrowserHost | None = None, takeover: str | None = None
    ) -> None:
        self.meeting_id = meeting_id
        self.host = host or get_host()
        # The supervisor's token when this bot takes over a meeting whose bot was lost.
        self.takeover = takeover
        # Who runs the meeting's bot (`Meeting.bot_container_id`): a heartbeat only counts
        # while it still names this run.
        container = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.container = container[:255]
        self.audio = AudioPump(meeting_id)
        self.tab = MeetingTab(self.host, meeting_id, self.audio.chunks)
        self.adapter: PlatformAdapter | None = None
        self.status = MeetingStatus.REQUESTED.value
        self.bot_name = bot_selectors.DEFAULT_BOT_NAME
        self.own_names: set[str] = set()
        self.config: dict[str, Any] = {}
        self.session: MeetingSession | None = None
        self.stream: SessionStream | None = None
        self.recorder: RecordingWriter | None = None
        self.speaking: dict[str, str] = {}
        # Capture-clock seconds seen: the page's (this thread writes it) and the end of the audio
        # written (`audio.end`, the pump's); one writer each, so neither update can undo the other.
        self.page_clock = 0.0
        # The speech the page indicated without audio to match since the last audible chunk
        # (`audio.heard_at`).
        self.unheard_speech_s = 0.0
        self.hearing_checked_at: float | None = None
        self.hearing_since = 0.0
        self.last_language: str | None = None
        self.last_task: str | None = None
        self.pubsub: Any = None
        self.last_heartbeat = 0.0
        self.last_reread = 0.0
        self.url = ""
        # Rejoins so far. A new page's capture counts from 0: its samples are moved by
        # `tab.capture_offset` onto the session's clock.
        self.rejoins = 0
        self.lost_at = 0.0
        self.leave_policy = AutomaticLeave()
        # Admitted and capturing, even if the `active` transition lost a race with a stop.
        self.admitted = False
        self.admitted_at = 0.0
        # The call's audio is joined (Zoom may admit a guest without it), and when to try next.
        self.audio_joined = False
        self.audio_retry_at = 0.0
        self.audio_wanted_since = 0.0  # admission, or when the audio was dropped
        # Live captions: None while being turned on, then whether they are on.
        self.captions_on: bool | None = None
        self.captions_retry_at = 0.0
        self.captions = CaptionSpeakers()
        self.chat = MeetingChat(meeting_id)
        self.attendance = Attendance()
        self.attendance_changed = False
        self.attendance_saved_at = 0.0

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> str:
        meeting = Meeting.objects.filter(pk=self.meeting_id).first()
        if self.takeover is not None:
            if meeting is None or not self._claim_takeover(meeting):
                return "skipped"
        else:
            if meeting is None or meeting.status != MeetingStatus.REQUESTED:
                return "skipped"
            if meeting.join_at is not None and meeting.join_at > timezone.now():
                return "scheduled"
            if not self._claim():
                return "skipped"
        finish: Finish
        try:
            self.pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
            self.pubsub.subscribe(control_channel(self.meeting_id))
            finish = self._drive()
        except BotFailure as failure:
            finish = self._failure(failure)
        except Exception as exc:
            logger.exception("bot for meeting %s crashed", self.meeting_id)
            finish = self._failure(
                BotFailure(self.status, f"{type(exc).__name__}: {exc}", evidence=True)
            )
        self._shutdown(finish)
        return finish.completion_reason or finish.reason

    def _claim(self) -> bool:
        """requested → joining, atomically: a second delivery of the task does nothing."""
        try:
            lifecycle.transition(
                meeting_id=self.meeting_id,
                to=MeetingStatus.JOINING,
                source=BOT_SOURCE,
                reason="bot_started",
                allowed_from=(MeetingStatus.REQUESTED,),
            )
        except lifecycle.InvalidTransition:
            return False
        Meeting.objects.filter(pk=self.meeting_id).update(
            bot_container_id=self.container, bot_heartbeat_at=timezone.now()
        )
        self.status = MeetingStatus.JOINING
        self.last_heartbeat = time.monotonic()
        return True

    def _claim_takeover(self, meeting: Meeting) -> bool:
        """The meeting the supervisor handed over under this token, atomically: a second
        delivery, or a meeting that ended meanwhile, does nothing. Goes on from what the lost
        bot left (`meeting`, read after the handover): its rejoins count against
        `BOT_MAX_REJOINS`, and its attendance continues."""
        claimed = Meeting.objects.filter(
            pk=self.meeting_id, status=meeting.status, bot_container_id=self.takeover
        ).update(bot_container_id=self.container, bot_heartbeat_at=timezone.now())
        if not claimed:
            return False
        self.status = meeting.status  # active, or waiting to be let in again
        self.last_heartbeat = time.monotonic()
        data = meeting.data or {}
        self.rejoins = len(data.get("bot_rejoins") or [])
        self.attendance = Attendance.resumed(data.get("attendance") or [], wall=timezone.now())
        self.chat = MeetingChat.resumed(self.meeting_id)
        return True

    def _drive(self) -> Finish:
        meeting = Meeting.objects.get(pk=self.meeting_id)
        self.config = dict(meeting.bot_config or {})
        self.bot_name = str(self.config.get("bot_name") or bot_selectors.DEFAULT_BOT_NAME)
        self.leave_policy = AutomaticLeave.from_config(self.config)
        adapter = adapter_for(meeting.platform)
        if adapter is None:
            raise BotFailure("joining", f"platform {meeting.platform} is not supported")
        self.adapter = adapter
        # The names the chat's panel gives the bot's own messages.
        self.own_names = {self.bot_name, *adapter.table.chat_own_authors}
        self.url = meeting_target_url(meeting)
        self.host.run(
            self.tab.open(self.url, stage=self.status), timeout_s=NAVIGATION_TIMEOUT_S + 30
        )
        stop = self._control()
        if stop is not None:
            return stop
        return self._join() or self._watch()

    def _join(self) -> Finish | None:
        """Fill in the name and ask to join on the page just opened; None: on to the watch."""
        try:
            joining = self._adapter().join(
                self._page(), bot_name=self.bot_name, timeout_s=JOIN_TIMEOUT_S
            )
            self.host.run(joining, timeout_s=JOIN_TIMEOUT_S + 10)
        except JoinError as exc:
            if exc.phase is Phase.ENDED:
                return Finish("completed", "meeting_ended_before_join", "meeting_ended")
            if exc.phase is Phase.REJECTED:
                return Finish("completed", "rejected", "awaiting_admission_rejected")
            raise BotFailure(self.status, str(exc), evidence=True) from exc
        return None

    def _watch(self) -> Finish:
        """The bot's loop: admission, then the call, until something ends it."""
        clicked_at = time.monotonic()
        lobby_since: float | None = None
        timers: LeaveTimers | None = None
        scan_failures = scan_timeouts = 0
        while True:
            if self.audio.error is not None:
                raise BotFailure(self.status, f"writing the audio failed: {self.audio.error}")
            if not self._heartbeat():
                # The supervisor took this bot for lost and handed the meeting to another.
                return Finish(self.status, "replaced")
            stop = self._control()
            if stop is not None:
                return stop
            try:
                snap = self.host.run(
                    self._adapter().snapshot(self._page()),
                    timeout_s=settings.BOT_PAGE_SCAN_TIMEOUT_S,
                )
                scan_failures = scan_timeouts = 0
            except (PlaywrightError, TimeoutError) as exc:
                scan_failures += 1
                scan_timeouts = scan_timeouts + 1 if isinstance(exc, TimeoutError) else 0
                lost = self._lost_page(exc, failures=scan_failures, timeouts=scan_timeouts)
                if lost is None:
                    self._wait_for_bell(TICK_S)
                    continue
                ended = self._rejoin(lost)
                if ended is not None:
                    return ended
                clicked_at, lobby_since = time.monotonic(), None
                scan_failures = scan_timeouts = 0
                continue
            if self.tab.capture_offset:
                snap = replace(snap, clock=snap.clock + self.tab.capture_offset / SAMPLE_RATE)
            now = time.monotonic()
            if not self.admitted:
                if snap.phase is Phase.IN_CALL:
                    self._admitted()
                    if timers is None:  # a rejoin keeps the call's timers (max duration)
                        timers = LeaveTimers(self.leave_policy, admitted_at=now)
                    continue
                ended = self._before_admission(snap, clicked_at, lobby_since, now)
                if ended is not None:
                    return ended
                if snap.phase is Phase.LOBBY and lobby_since is None:
                    lobby_since = now
            else:
                assert timers is not None
                ended = self._in_call(snap, timers, now)
                if ended is not None:
                    return ended
            self._wait_for_bell(TICK_S)

    def _lost_page(self, exc: Exception, *, failures: int, timeouts: int) -> str | None:
        """Why the page counts as lost after a failed scan (`failures` and `timeouts` in a row),
        or None: the next tick tries again (a page can change under a scan)."""
        if self.tab.lost is not None:
            return self.tab.lost
        if type(exc).__name__ == "TargetClosedError":
            # No event says so when the Playwright driver itself died.
            return "the meeting page is gone (its browser or driver exited)"
        if timeouts >= MAX_SCAN_TIMEOUTS:
            return f"the meeting page stopped responding ({timeouts} scans timed out)"
        if failures >= MAX_SCAN_FAILURES:
            return f"the meeting page stopped responding: {exc}"
        return None

    def _rejoin(self, cause: str) -> Finish | None:
        """The meeting page crashed, hung or lost its browser: open the meeting again in a new
        context (on a relaunched browser if it died) and ask to join again, as a person would
        reload the tab; fails after `BOT_MAX_REJOINS`. None: on to the lobby or the call.

        The status and the session go on (a meeting stays `active`): audio after the gap is
        stamped on the session's clock, so speakers, the transcript and the recording (its gap
        filled with silence) stay aligned, and `data.bot_rejoins` says why there is a gap.
        """
        if self.rejoins >= settings.BOT_MAX_REJOINS:
            after = f" (after {self.rejoins} rejoins)" if self.rejoins else ""
            raise BotFailure(self.status, cause + after)
        self.rejoins += 1
        logger.warning(
            "meeting %s: %s; joining again (%d of %d)",
            self.meeting_id,
            cause,
            self.rejoins,
            settings.BOT_MAX_REJOINS,
        )
        self.lost_at = time.monotonic()
        if self.stream is not None:
            self._end_speaker_turns(self.clock)
        self.captions = CaptionSpeakers()
        self.admitted = self.audio_joined = False
        self.captions_on = self.hearing_checked_at = self.chat.open = None
        db_retry(
            lambda: bot_services.bot_rejoin_record(meeting_id=self.meeting_id, cause=cause),
            what=f"meeting {self.meeting_id}: the rejoin",
        )
        self._heartbeat()
        try:
            self.host.run(self.tab.discard(), timeout_s=10)
        except TimeoutError:
            logger.warning("meeting %s: the lost page's context did not close", self.meeting_id)
        self.host.run(
            self.tab.open(self.url, stage=self.status), timeout_s=NAVIGATION_TIMEOUT_S + 30
        )
        return self._join()

    def _before_admission(
        self, snap: PageSnapshot, clicked_at: float, lobby_since: float | None, now: float
    ) -> Finish | None:
        if snap.phase is Phase.LOBBY:
            if self.status == MeetingStatus.JOINING:
                self._transition(MeetingStatus.AWAITING_ADMISSION, reason="waiting_room")
            elif self.status == MeetingStatus.ACTIVE:
                # Rejoined into the waiting room (a real platform asks again): nothing is heard
                # until someone admits the bot, and the status is the API's cue to do so.
                self._transition(
                    MeetingStatus.AWAITING_ADMISSION, reason="waiting_room_after_rejoin"
                )
            waited = now - (lobby_since or now)
            if waited >= self.leave_policy.waiting_room_timeout_s:
                return Finish("completed", "waiting_room_timeout", "awaiting_admission_timeout")
            return None
        if snap.phase is Phase.REJECTED or snap.phase is Phase.REMOVED:
            return Finish("completed", f"rejected: {snap.detail}", "awaiting_admission_rejected")
        if snap.phase is Phase.LOBBY_TIMEOUT:
            return Finish(
                "completed", f"lobby_timeout: {snap.detail}", "awaiting_admission_timeout"
            )
        if snap.phase is Phase.ENDED:
            return Finish("completed", f"meeting_ended: {snap.detail}", "meeting_ended")
        if snap.phase is Phase.NOT_FOUND:
            raise BotFailure(
                self.status, f"the meeting cannot be joined: {snap.detail}", evidence=True
            )
        if now - clicked_at >= AFTER_JOIN_TIMEOUT_S and lobby_since is None:
            raise BotFailure(
                self.status,
                f"no waiting room or call after clicking join (page: {snap.phase})",
                evidence=True,
            )
        return None

    def _in_call(self, snap: PageSnapshot, timers: LeaveTimers, now: float) -> Finish | None:
        self.page_clock = max(self.page_clock, snap.clock)
        if snap.phase is Phase.REMOVED:
            return Finish("completed", f"removed: {snap.detail}", "evicted")
        if snap.phase in (Phase.ENDED, Phase.NOT_FOUND, Phase.REJECTED, Phase.LOBBY_TIMEOUT):
            return Finish("completed", f"meeting_ended: {snap.detail}", "meeting_ended")
        if snap.phase is not Phase.IN_CALL:
            return None
        self._join_audio(now)
        if self.audio_joined and self.captions_on is None:
            self._turn_on_captions(now)
        others = snap.others(self.bot_name)
        self._speakers(others, snap.clock)
        if self.attendance.observe([p.name for p in others], now=now, wall=timezone.now()):
            self.attendance_changed = True
        if self.attendance_changed and now - self.attendance_saved_at >= ATTENDANCE_SAVE_EVERY_S:
            self._save_attendance()
            self.attendance_saved_at = now
        if self.captions_on:
            self._caption_speakers(snap, others)
        # After the captions' menu is done with: a click on the chat could close it midway.
        if self.captions_on is not None:
            self.chat.open_step(
                self._page_step, self._adapter(), now=now, admitted_at=self.admitted_at
            )
        self.chat.read(snap, own=self.own_names)
        if self.audio_joined:
            self._check_hearing(now)
        due = timers.observe(len(others), now, heard_at=self.audio.heard_at or None)
        if due is not None:
            return Finish("completed", f"automatic_leave: {due}", due)
        return None

    def _save_attendance(self, *, leaving: bool = False) -> None:
        attendance = self.attendance.as_data()
        db_retry(
            lambda: bot_services.bot_attendance_record(
                meeting_id=self.meeting_id, attendance=attendance, announce=not leaving
            ),
            what=f"meeting {self.meeting_id}: the attendance",
        )
        self.attendance_changed = False

    def _join_audio(self, now: float) -> None:
        """Where the platform let the bot into the call without its audio (Zoom), or dropped it
        since, take the next step towards it; a bot that cannot would stay in the call hearing
        nothing, so after `BOT_AUDIO_JOIN_TIMEOUT_S` it fails with the reason."""
        if now < self.audio_retry_at:
            return
        self.audio_retry_at = now + (AUDIO_RECHECK_S if self.audio_joined else AUDIO_JOIN_RETRY_S)
        joined = self._page_step(self._adapter().join_audio, "joining the call's audio")
        if joined:
            waited_s = now - self.audio_wanted_since
            if not self.audio_joined and waited_s > AUDIO_JOIN_RETRY_S:
                logger.info(
                    "meeting %s: joined the call's audio in %.1f s", self.meeting_id, waited_s
                )
            self.audio_joined = True
            return
        if self.audio_joined:
            logger.warning(
                "meeting %s: the call's audio was dropped; joining it again", self.meeting_id
            )
            self.audio_joined = False
            self.audio_wanted_since = now
            self.audio_retry_at = now + AUDIO_JOIN_RETRY_S
            # Hearing is checked afresh once the audio is back.
            self.hearing_checked_at = None
        timeout_s = settings.BOT_AUDIO_JOIN_TIMEOUT_S
        if now - self.audio_wanted_since >= timeout_s:
            raise BotFailure(
                self.status,
                f"in the call but could not join its audio within {timeout_s} s "
                '(no usable "Join Audio by Computer"): the bot would hear nothing',
                evidence=True,
            )

    def _check_hearing(self, now: float) -> None:
        """A capture that hears silence while the page shows people speaking is broken (chunks
        arrive at full rate either way, BROWSER.md); after `BOT_DEAF_TIMEOUT_S` of such speech
        the bot fails with the reason instead of writing an empty transcript."""
        if self.hearing_checked_at is None:
            # Counted from the moment the bot could first hear the call.
            self.hearing_since = now
        step = 0.0 if self.hearing_checked_at is None else max(0.0, now - self.hearing_checked_at)
        self.hearing_checked_at = now
        if now - max(self.audio.heard_at, self.hearing_since) <= HEARING_SLACK_S:
            self.unheard_speech_s = 0.0
            return
        if not (self.speaking or self.captions.open):
            return
        self.unheard_speech_s += step
        timeout_s = settings.BOT_DEAF_TIMEOUT_S
        if self.unheard_speech_s >= timeout_s:
            names = ", ".join(sorted({*self.speaking.values(), *self.captions.open}))
            raise BotFailure(
                self.status,
                f"the meeting's audio is silent though the page showed {names} speaking "
                f"for {self.unheard_speech_s:.0f} s: the bot's capture hears nothing",
                evidence=True,
            )

    def _page_step(self, step: Callable[[Page], Coroutine[Any, Any, bool]], what: str) -> bool:
        """One adapter step on the call's page (True: done); a failed click is a False."""
        try:
            return bool(self.host.run(step(self._page()), timeout_s=10))
        except (PlaywrightError, TimeoutError) as exc:
            # The page can change under a click (a dialog closing); the next try looks again.
            logger.info("meeting %s: %s: %s", self.meeting_id, what, exc)
            return False

    def _turn_on_captions(self, now: float) -> None:
        """Live captions name speakers the gallery has no tile for; a platform without them, or
        a meeting whose policy forbids them, leaves the tiles as the only source."""
        if now < self.captions_retry_at:
            return
        self.captions_retry_at = now + AUDIO_JOIN_RETRY_S
        on = self._page_step(self._adapter().turn_on_captions, "turning on live captions")
        if on:
            self.captions_on = bool(self._adapter().table.captions_steps)
        elif now - self.admitted_at >= CAPTIONS_TRY_S:
            logger.warning(
                "meeting %s: live captions could not be turned on; speakers from tiles only",
                self.meeting_id,
            )
            self.captions_on = False

    def _caption_speakers(self, snap: PageSnapshot, others: list[Any]) -> None:
        assert self.stream is not None
        # People with a tile are left to its (sooner, exact) indicator.
        ignore = {p.name for p in others} | {self.bot_name}
        for event in self.captions.observe(snap.captions, snap.clock, ignore=ignore):
            self.stream.append_speaker(
                name=event.name,
                participant_id=f"caption:{event.name}",
                state=event.state,
                t=event.t,
            )

    # -- admission and capture ---------------------------------------------------------------
    def _admitted(self) -> None:
        """Start capture, then create the session (t=0 = capture start) and go active; back
        after a rejoin (or as a bot taking over), note where the gap ends."""
        self.admitted = True
        self.admitted_at = self.audio_wanted_since = time.monotonic()
        if self.session is None:
            self._session_begin()
            if not self.takeover and self.config.get("chat_on_join"):
                self.chat.queue(str(self.config["chat_on_join"]))
        else:
            # Back in the call after a rejoin: the session's clock ran on while the bot was out,
            # from the last audio written (a hung page had sent nothing for a while before it
            # was taken as lost).
            gap_end = self.audio.end + (time.monotonic() - (self.audio.end_at or self.lost_at))
            self.tab.capture_offset = round(max(self.clock, gap_end) * SAMPLE_RATE)
            self.host.run(self._page().evaluate("window.__vexaCapture.start()"), timeout_s=15)
            if self.status == MeetingStatus.AWAITING_ADMISSION:
                self._transition(MeetingStatus.ACTIVE, reason="admitted_again")
            logger.info(
                "meeting %s: back in the call after %.1f s",
                self.meeting_id,
                time.monotonic() - self.lost_at,
            )
        if self.rejoins:
            db_retry(
                lambda: bot_services.bot_rejoin_resumed(meeting_id=self.meeting_id),
                what=f"meeting {self.meeting_id}: back in the call",
            )

    def _session_begin(self) -> None:
        self.host.run(self._page().evaluate("window.__vexaCapture.start()"), timeout_s=15)
        started_at = timezone.now()

        def session_start() -> MeetingSession:
            with transaction.atomic():
                session = MeetingSession.objects.create(
                    meeting_id=self.meeting_id, started_at=started_at
                )
                if self.status != MeetingStatus.ACTIVE:  # a takeover's may be already
                    reason = "admitted_again" if self.takeover else "admitted"
                    self._transition(MeetingStatus.ACTIVE, reason=reason)
                session_uid = session.session_uid
                if self.config.get("transcribe_enabled") is not False:
                    transaction.on_commit(lambda: _enqueue_transcription(session_uid))
            return session

        self.session = db_retry(session_start, what=f"meeting {self.meeting_id}: the session")
        self.stream = SessionStream(self.session.session_uid, client=get_job_redis())
        self.last_language = self.config.get("language") or None
        self.last_task = self.config.get("task") or None
        if self.last_language or self.last_task:
            self.stream.append_config(language=self.last_language, task=self.last_task, t=0.0)
        if self.config.get("recording_enabled") is not False:
            session = self.session
            self.recorder = db_retry(
                lambda: RecordingWriter(session), what=f"meeting {self.meeting_id}: the recording"
            )
        self.audio.start(self.stream, self.recorder)

    @property
    def clock(self) -> float:
        """The latest capture-clock time this run knows of."""
        return max(self.page_clock, self.audio.end)

    def _speakers(self, others: list[Any], clock: float) -> None:
        assert self.stream is not None
        now_speaking = {p.participant_id: p.name for p in others if p.speaking}
        for pid, name in list(self.speaking.items()):
            if pid not in now_speaking:
                self.stream.append_speaker(name=name, participant_id=pid, state="stop", t=clock)
                del self.speaking[pid]
        for pid, name in now_speaking.items():
            if pid not in self.speaking:
                self.stream.append_speaker(name=name, participant_id=pid, state="start", t=clock)
                self.speaking[pid] = name

    # -- control, heartbeat ----------------------------------------------------------------
    def _wait_for_bell(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` (the next tick) for `notify_bot` to ring, waking early when
        it does; every ring that came means the row is re-read now."""
        if self.pubsub is None:
            time.sleep(timeout_s)
            return
        try:
            message = self.pubsub.get_message(timeout=timeout_s)
            while message is not None:
                self.last_reread = 0.0
                message = self.pubsub.get_message(timeout=0)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Redis dropped the subscription (a restart, a failover): redis-py does not retry a
            # subscriber's read. The bell only hurries the row's re-read, so the call goes on;
            # the next read reconnects and subscribes again. A ring lost meanwhile is made up
            # for by re-reading the row now.
            logger.warning("meeting %s: control channel lost (%s)", self.meeting_id, exc)
            time.sleep(timeout_s)
            self.last_reread = 0.0

    def _control(self) -> Finish | None:
        """Re-read the meeting row when rung or due: a stop request, or a config change."""
        self._wait_for_bell(0)
        if time.monotonic() - self.last_reread < REREAD_EVERY_S:
            return None
        self.last_reread = time.monotonic()
        meeting = db_retry(
            Meeting.objects.filter(pk=self.meeting_id)
            .only("status", "start_time", "bot_config")
            # In the same query: a bot never asked to post reads nothing more every 2 s.
            .annotate(chat_waiting=bot_selectors.bot_chat_waiting_exists())
            .first,
            what=f"meeting {self.meeting_id}: reading it",
        )
        if meeting is None:
            return Finish("completed", "meeting_deleted", "stopped")
        if meeting.status == MeetingStatus.STOPPING:
            # Set at the first admission: a bot waiting to be let in again after a rejoin was
            # in the call, and its transcript says so.
            admitted = meeting.start_time is not None
            return Finish(
                "completed",
                "stop_requested",
                "stopped" if admitted else "stopped_before_admission",
            )
        if meeting.status in (MeetingStatus.COMPLETED, MeetingStatus.FAILED):
            # Someone else (the supervisor, an operator) already ended it: just leave.
            return Finish(meeting.status, "ended_elsewhere")
        self.config = dict(meeting.bot_config or {})
        if self.admitted and getattr(meeting, "chat_waiting", False):
            self.chat.post_waiting(self._send_chat)
        if self.stream is not None:
            language = self.config.get("language") or None
            task = self.config.get("task") or None
            if (language, task) != (self.last_language, self.last_task):
                self.last_language, self.last_task = language, task
                self.stream.append_config(language=language, task=task, t=self._clock_now())
        return None

    def _send_chat(self, text: str) -> None:
        self.host.run(self._adapter().send_chat(self._page(), text), timeout_s=CHAT_POST_TIMEOUT_S)

    def _clock_now(self) -> float:
        if not self.admitted:
            return self.clock  # rejoining: the new page's capture has not started
        try:
            page_now = self.host.run(
                self._page().evaluate("window.__vexaCapture.now()"), timeout_s=5
            )
            return self.tab.capture_offset / SAMPLE_RATE + float(page_now)
        except Exception:
            return self.clock

    def _heartbeat(self) -> bool:
        """Heartbeat when due; False once the meeting no longer names this run as its bot."""
        if time.monotonic() - self.last_heartbeat < heartbeat_interval_s():
            return True
        self.last_heartbeat = time.monotonic()
        updated = db_retry(
            lambda: Meeting.objects.filter(
                pk=self.meeting_id, bot_container_id=self.container
            ).update(bot_heartbeat_at=timezone.now()),
            what=f"meeting {self.meeting_id}: heartbeat",
        )
        return bool(updated)

    def _transition(self, to: str, *, reason: str, **kwargs: Any) -> bool:
        try:
            db_retry(
                lambda: lifecycle.transition(
                    meeting_id=self.meeting_id, to=to, source=BOT_SOURCE, reason=reason, **kwargs
                ),
                what=f"meeting {self.meeting_id}: {to}",
            )
        except lifecycle.InvalidTransition as exc:
            logger.info("meeting %s: %s", self.meeting_id, exc)
            return False
        self.status = to
        return True

    # -- browser -----------------------------------------------------------------------------
    def _page(self) -> Page:
        if self.tab.page is None:
            raise BotFailure(self.status, "no page")
        return self.tab.page

    def _adapter(self) -> PlatformAdapter:
        assert self.adapter is not None
        return self.adapter

    # -- the end -----------------------------------------------------------------------------
    def _failure(self, failure: BotFailure) -> Finish:
        extra: dict[str, Any] | None = None
        if failure.evidence:
            try:
                evidence = self.host.run(self.tab.evidence(), timeout_s=15)
            except Exception:
                evidence = {}
            if evidence:
                extra = {"join_failure_evidence": evidence}
        return Finish(
            "failed",
            "bot_error",
            failure_stage=failure.stage,
            error=failure.message,
            extra=extra,
        )

    def _end_speaker_turns(self, t: float) -> None:
        """Stop at `t` every speaker and caption turn still open (the page is going away)."""
        assert self.stream is not None
        for pid, name in list(self.speaking.items()):
            self.stream.append_speaker(name=name, participant_id=pid, state="stop", t=t)
        self.speaking.clear()
        for name in list(self.captions.open):
            self.stream.append_speaker(
                name=name, participant_id=f"caption:{name}", state="stop", t=t
            )
        self.captions.open.clear()

    def _close_stream(self, finish: Finish) -> None:
        assert self.stream is not None
        self._end_speaker_turns(self.clock)
        self.stream.append_end(reason=finish.completion_reason or finish.reason)

    def _shutdown(self, finish: Finish) -> None:
        """Leave, flush what was captured, close the stream and the recording, then the status."""
        in_call = self.admitted
        began = time.monotonic()
        try:
            self.host.run(
                self.tab.leave_and_close(self.adapter, in_call=in_call),
                timeout_s=LEAVE_TIMEOUT_S + 15,
            )
        except Exception:
            logger.exception("meeting %s: closing the browser context failed", self.meeting_id)
        left_at = time.monotonic()
        close_old_connections()
        self.audio.stop()
        if self.stream is not None:
            try:
                self._close_stream(finish)
            except redis.RedisError:
                # Redis away for longer than the reconnect window: the meeting still gets its
                # status, and the transcription closes the session as orphaned once it is over.
                logger.exception("meeting %s: closing the session stream failed", self.meeting_id)
        if self.recorder is not None:
            self.recorder.close(
                status=RecordingStatus.COMPLETED
                if finish.status == "completed"
                else RecordingStatus.FAILED
            )
        # Where a slow stop spent its time, for the operator reading the log.
        logger.info(
            "meeting %s: shutdown (%s): leave and close %.2f s, audio and recording %.2f s",
            self.meeting_id,
            finish.reason,
            left_at - began,
            time.monotonic() - left_at,
        )
        if self.attendance.stays and finish.reason != "replaced":  # the new bot's to keep now
            if self.attendance.end_absent():  # they left before the bot did: said so
                self._save_attendance()
            self.attendance.close(wall=timezone.now())
            self._save_attendance(leaving=True)
        if self.session is not None:
            session_pk = self.session.pk
            db_retry(
                lambda: MeetingSession.objects.filter(pk=session_pk).update(
                    ended_at=timezone.now()
                ),
                what=f"meeting {self.meeting_id}: the session's end",
            )
        if self.pubsub is not None:
            try:
                self.pubsub.close()
            except Exception:
                logger.debug("closing pubsub failed", exc_info=True)
        if finish.reason in ("ended_elsewhere", "replaced"):
            return
        if finish.status == "completed":
            self._transition(
                MeetingStatus.COMPLETED,
                reason=finish.reason,
                completion_reason=finish.completion_reason,
            )
        else:
            self._transition(
                MeetingStatus.FAILED,
                reason=finish.reason,
                failure_stage=finish.failure_stage,
                error_details={"message": finish.error or "", "stage": finish.failure_stage},
                extra_data=finish.extra,
            )


def _enqueue_transcription(session_uid: str) -> None:
    try:
        transcribe_session = importlib.import_module("transcripts.tasks").transcribe_session
    except (ImportError, AttributeError):
        logger.warning(
            "transcripts.tasks.transcribe_session is not available: session %s is not transcribed",
            session_uid,
        )
        return
    transcribe_session.delay(session_uid)
