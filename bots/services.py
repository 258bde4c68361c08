"""Writes for bots: request one, stop it, change its live settings.

The database row is the truth and Redis only rings the bell: each function changes the
meeting inside a transaction and, after commit, enqueues the bot (`run_bot`) or tells the
running bot to re-read its row (`bots.control.notify_bot`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from bots import capacity, control, platforms, selectors
from meetings import events, lifecycle
from meetings.models import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    BotChatMessage,
    ChatMessage,
    Meeting,
    MeetingStatus,
)
from transcripts import realtime
from transcripts.engine import model
from vexa_site.errors import Conflict, InvalidInput, NoCapacity, NotFound, TooManyRequests
from vexa_site.timestamps import now_iso_z

logger = logging.getLogger(__name__)

# Something that happened in a meeting's call, to announce: (event type, its key, payload).
Happened = tuple[events.OutputKind, str, dict[str, Any]]

S = MeetingStatus
TASKS = ("transcribe", "translate")
# Seconds a client may want to wait before asking again once at the concurrency limit.
CONCURRENCY_RETRY_AFTER_S = 30
# The PostgreSQL advisory lock that serializes taking a bot slot (an arbitrary constant).
SLOTS_LOCK_ID = 0x766578610001


@functools.cache
def whisper_languages() -> frozenset[str]:
    """Whisper's language codes (faster-whisper's own table, so the two never disagree)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def check_language(language: str | None, *, live: bool) -> str | None:
    """None or "" means auto-detect; anything else must be one of Whisper's codes.

    With `live` (the bot's audio is transcribed as it comes) the language must also be one the
    live model can transcribe: an English-only model given Spanish writes English-sounding
    nonsense and labels it Spanish, so that is refused before a bot joins.
    """
    if not language:
        return None
    code = language.strip().lower()
    if code not in whisper_languages():
        raise _language_error(
            f"Unsupported language {language!r}; use a Whisper language code "
            "such as 'en', 'es', 'de', or omit it to auto-detect"
        )
    if live and code != "en" and model.model_is_english_only():
        raise _language_error(
            f"The live transcription model ({model.model_label()}) is English-only, so it "
            f"cannot transcribe {code!r}: send 'en' or omit the language, or have the "
            "operator set WHISPER_MODEL to a multilingual Whisper model"
        )
    return code


def _language_error(message: str) -> InvalidInput:
    return InvalidInput(
        [{"loc": ["body", "language"], "msg": message, "type": "value_error.language"}]
    )


def enqueue_run_bot(meeting_id: int, takeover: str | None = None) -> None:
    """Hand the meeting to a bot worker (Celery queue `bots`). Runs after commit."""
    # The bot runtime's module, imported late so the web process does not load it.
    tasks = importlib.import_module("bots.tasks")
    tasks.run_bot.delay(meeting_id, takeover=takeover)


def _enqueue_run_bot_on_commit(meeting_id: int, takeover: str | None = None) -> None:
    # Robust, and named like the function: a callback that raises (the broker away) is logged
    # by its `__qualname__`, and a bare partial's AttributeError made it a 500.
    enqueue = functools.update_wrapper(
        functools.partial(enqueue_run_bot, meeting_id, takeover), enqueue_run_bot
    )
    transaction.on_commit(enqueue, robust=True)


def _notify(meeting_id: int, reason: str) -> None:
    try:
        control.notify_bot(meeting_id=meeting_id, reason=reason)
    except Exception:
        # The change is committed; a bot that missed the bell sees it on its next poll.
        logger.exception("could not notify the bot of meeting %s (%s)", meeting_id, reason)


def _check_capacity(now: datetime) -> None:
    """507 when every announced bot slot holds (or is promised to) a bot: a queued bot would
    wait for a whole meeting to end somewhere. Scheduled bots are exempt (Recall's rule, seed
    004), and the slots of those due within `BOT_SLOT_RESERVE_S` are held for them, so an
    ad-hoc bot cannot take the slot a calendar's bot is about to need; every bot is exempt while
    no host announced its slots. Call inside the transaction that creates the meeting."""
    slots = capacity.slots_total()
    if slots is None:
        return
    if connection.vendor == "postgresql":
        # Two users' requests at once would both count the last slot free (each holds only
        # its own user's row): the count and the insert are serialized until commit. SQLite's
        # write transactions are serialized already (they begin IMMEDIATE).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SLOTS_LOCK_ID])
    reserved = capacity.slots_reserved(now)
    if capacity.slots_taken(now) + reserved >= slots:
        held = (
            f", {reserved} of them held for scheduled bots due within "
            f"{settings.BOT_SLOT_RESERVE_S // 60} minutes"
            if reserved
            else ""
        )
        raise NoCapacity(
            f"No bot is free: all {slots} bot slots of the running bot hosts are taken{held}. "
            f"Retry in {CONCURRENCY_RETRY_AFTER_S} s, or schedule the bot with join_at",
            headers={"Retry-After": str(CONCURRENCY_RETRY_AFTER_S)},
        )


def bot_create(
    *,
    user: User,
    platform: str | None = None,
    native_meeting_id: str | None = None,
    passcode: str | None = None,
    meeting_url: str | None = None,
    bot_name: str | None = None,
    language: str | None = None,
    task: str | None = None,
    join_at: datetime | None = None,
    automatic_leave: dict[str, int] | None = None,
    recording_enabled: bool = True,
    transcribe_enabled: bool = True,
    metadata: dict[str, Any] | None = None,
    hotwords: list[str] | None = None,
    prompt: str | None = None,
    chat_on_join: str | None = None,
) -> Meeting:
    """Create a `requested` meeting for a new bot; enqueue the bot after commit.

    Validates the meeting per platform (400), refuses a second live bot for the same meeting
    (409), a user at `max_concurrent_bots` (429; 0 = unlimited) and a bot no slot is free for
    (507, `_check_capacity`). The user's row is locked
    so that two concurrent requests cannot both pass the count. A bot scheduled for later
    (`join_at` in the future) is not enqueued and does not count against the limit; the
    scheduler starts it when due.
    """
    ref = platforms.resolve_meeting(
        platform=platform,
        native_meeting_id=native_meeting_id,
        passcode=passcode,
        meeting_url=meeting_url,
    )
    language = check_language(language, live=transcribe_enabled)
    task = task or "transcribe"
    if task not in TASKS:
        raise InvalidInput(f"task must be one of {list(TASKS)}")
    now = timezone.now()
    scheduled = join_at is not None and join_at > now
    config: dict[str, Any] = {
        "bot_name": bot_name or selectors.DEFAULT_BOT_NAME,
        "language": language,
        "task": task,
        "passcode": ref.passcode,
        "meeting_url": ref.meeting_url,
        "automatic_leave": dict(automatic_leave or {}),
        "recording_enabled": recording_enabled,
        "transcribe_enabled": transcribe_enabled,
        "metadata": dict(metadata or {}),
    }
    if hotwords:
        config["hotwords"] = list(hotwords)
    if prompt:
        config["prompt"] = prompt
    if chat_on_join:
        config["chat_on_join"] = chat_on_join
    with transaction.atomic():
        locked_user = User.objects.select_for_update().get(pk=user.pk)
        live = capacity.meetings_holding_slots(now).filter(user=locked_user)
        if Meeting.objects.filter(
            user=locked_user,
            platform=ref.platform,
            native_meeting_id=ref.native_meeting_id,
            status__in=LIVE_STATUSES,
        ).exists():
            raise Conflict(_already_running(ref))
        limit = locked_user.max_concurrent_bots
        if limit and not scheduled and live.count() >= limit:
            raise TooManyRequests(
                f"Too many concurrent bots: the limit for this user is {limit}",
                headers={"Retry-After": str(CONCURRENCY_RETRY_AFTER_S)},
            )
        if not scheduled:
            _check_capacity(now)
        try:
            with transaction.atomic():
                meeting = Meeting.objects.create(
                    user=locked_user,
                    platform=ref.platform,
                    native_meeting_id=ref.native_meeting_id,
                    constructed_meeting_url=ref.meeting_url,
                    status=S.REQUESTED,
                    bot_config=config,
                    join_at=join_at,
                )
        except IntegrityError:
            # The partial unique index `one_live_bot_per_meeting` caught a race we lost.
            raise Conflict(_already_running(ref)) from None
        lifecycle.record_created(meeting)
        if not scheduled:
            _enqueue_run_bot_on_commit(meeting.pk)
    return meeting


def _already_running(ref: platforms.MeetingRef) -> str:
    return (
        f"A bot is already running for {ref.platform} meeting {ref.native_meeting_id}; "
        "stop it before requesting another"
    )


def bot_reschedule(*, meeting_id: int, join_at: datetime) -> Meeting:
    """Move a scheduled bot that has not started to `join_at` (a calendar event that moved).
    One already on its way, or one that was never scheduled, is a 409."""
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        if meeting.status != S.REQUESTED or meeting.join_at is None:
            raise Conflict(f"The bot is {meeting.status}; only a scheduled bot can be moved")
        meeting.join_at = join_at
        meeting.save(update_fields=["join_at", "updated_at"])
    return meeting


def bot_stop(*, meeting_id: int, source: str = "user_api") -> Meeting:
    """Stop a meeting's bot: `stopping`, then the bot leaves and completes it.

    A bot that has not started (`requested`, scheduled or queued) is never started: the meeting
    goes straight on to `completed` with `stopped_before_admission`. A running bot is rung
    after commit; it leaves and completes the meeting (`stopped`, or `stopped_before_admission`
    if it was not yet admitted). Stopping a meeting already `stopping` only rings again; a
    finished one is a 404, like a meeting with no bot.
    """
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        if meeting.status in TERMINAL_STATUSES:
            raise NotFound("Bot not found")
        if meeting.status != S.STOPPING:
            was = meeting.status
            meeting = lifecycle.transition(
                meeting_id=meeting_id, to=S.STOPPING, source=source, reason="stop requested"
            )
            if was == S.REQUESTED:
                meeting = lifecycle.transition(
                    meeting_id=meeting_id,
                    to=S.COMPLETED,
                    source=source,
                    reason="stopped before the bot started",
                    completion_reason="stopped_before_admission",
                )
        transaction.on_commit(functools.partial(_notify, meeting_id, "stop"))
    return meeting


def _active_locked(meeting_id: int, *, only: str) -> Meeting:
    """The meeting, locked until commit, whose bot is in the call (a 409 saying `only` if not):
    what a command for the running bot needs."""
    meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
    if meeting.status != S.ACTIVE:
        raise Conflict(f"Bot is not active (status: {meeting.status}); {only}")
    return meeting


def bot_update_config(*, meeting_id: int, changes: dict[str, Any]) -> Meeting:
    """Change `language`, `task` or `bot_name` of an active bot (409 if it is not active).

    The bot is rung after commit; it re-reads `bot_config` and writes the change to its
    session stream, so transcription applies it to the audio that follows.
    """
    allowed = {k: v for k, v in changes.items() if k in ("language", "task", "bot_name")}
    if not allowed:
        raise InvalidInput("Give at least one of language, task, bot_name")
    if "language" in allowed:
        allowed["language"] = check_language(allowed["language"], live=True)
    if "task" in allowed and allowed["task"] not in TASKS:
        raise InvalidInput(f"task must be one of {list(TASKS)}")
    with transaction.atomic():
        meeting = _active_locked(meeting_id, only="only an active bot can be reconfigured")
        meeting.bot_config = {**(meeting.bot_config or {}), **allowed}
        meeting.save(update_fields=["bot_config", "updated_at"])
        transaction.on_commit(functools.partial(_notify, meeting_id, "config"))
    return meeting


CHAT_MAX_CHARS = 4096


def bot_chat_send(*, meeting_id: int, text: str) -> BotChatMessage:
    """Ask the meeting's bot to post `text` in the meeting's chat (409 unless it is `active`).

    The message is stored, then the bot is rung after commit: it posts what waits while it is
    in the call, in order, and records each message sent or why not."""
    with transaction.atomic():
        meeting = _active_locked(meeting_id, only="only a bot in the call can post in its chat")
        message = BotChatMessage.objects.create(meeting=meeting, text=text)
        transaction.on_commit(functools.partial(_notify, meeting_id, "chat"))
    return message


def bot_chat_posted(*, message_id: int, error: str | None = None) -> None:
    """The bot posted the message (or could not: `error`); once only. A message sent is a
    `chat.message` (`from_bot`): a webhook event, and a live event after commit."""
    sent_at = timezone.now()
    with transaction.atomic():
        changed = BotChatMessage.objects.filter(
            pk=message_id, sent_at__isnull=True, error=""
        ).update(
            **({"error": error[:500] or "failed"} if error is not None else {"sent_at": sent_at})
        )
        if not changed or error is not None:
            return
        message = BotChatMessage.objects.select_related("meeting").get(pk=message_id)
        wire = selectors.chat_wire(
            sender=selectors.bot_name(message.meeting), text=message.text, at=sent_at, from_bot=True
        )
        _announce(message.meeting_id, [("chat.message", f"chat:bot:{message.pk}", wire)])


# What is kept of one message read from a page (the platforms' own limits are lower).
CHAT_READ_MAX_CHARS = 16_384


def bot_chat_read(*, meeting_id: int, messages: list[tuple[str, str]]) -> None:
    """Store what participants posted in the meeting's chat, (sender, text) oldest first, as
    the bot read it: each a `chat.message` webhook event, and a live event after commit."""
    seen_at = timezone.now()
    rows = [
        ChatMessage(
            meeting_id=meeting_id,
            sender=sender[:255],
            text=text[:CHAT_READ_MAX_CHARS],
            seen_at=seen_at,
        )
        for sender, text in messages
    ]
    with transaction.atomic():
        ChatMessage.objects.bulk_create(rows)
        happened: list[Happened] = [
            (
                "chat.message",
                f"chat:read:{row.pk}",
                selectors.chat_wire(sender=row.sender, text=row.text, at=seen_at, from_bot=False),
            )
            for row in rows
        ]
        _announce(meeting_id, happened)


def _announce(meeting_id: int, happened: list[Happened]) -> None:
    """Inside the transaction that stored them: what happened in the meeting, each (type, key,
    payload) a webhook event (keyed: a retry sends none twice) and a live event after commit."""
    # One read of the meeting's owner and ids for them all.
    blank = events.output_event(kind=happened[0][0], meeting_id=meeting_id, key="", data={})
    for kind, key, payload in happened:
        keyed = dataclasses.replace(
            blank, kind=kind, key=f"meeting:{meeting_id}:{key}", data=payload
        )
        events.dispatch_output(keyed)
    live = [(kind, payload) for kind, _key, payload in happened]
    transaction.on_commit(
        lambda: realtime.publish_meeting_events(meeting_id=meeting_id, events=live)
    )


def _rejoin_noted(meeting: Meeting, cause: str) -> None:
    data = dict(meeting.data or {})
    timestamp = now_iso_z()
    rejoins = [*data.get("bot_rejoins", []), {"timestamp": timestamp, "cause": cause[:500]}]
    meeting.data = {**data, "bot_rejoins": rejoins}


def bot_rejoin_record(*, meeting_id: int, cause: str) -> None:
    """Note in the meeting's `data.bot_rejoins` that its bot opened the meeting again, and why
    (the transcript and the recording have a gap there).

    The row is locked: a status transition writing `data` at the same moment keeps its entry.
    """
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        _rejoin_noted(meeting, cause)
        meeting.save(update_fields=["data", "updated_at"])


def bot_rejoin_resumed(*, meeting_id: int) -> None:
    """Note when the bot was back in the call after its latest rejoin (`resumed_at` of the last
    `data.bot_rejoins` entry; the gap in the transcript and the recording ends there). Row
    locked, like `bot_rejoin_record`; a second call keeps the first time."""
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        data = dict(meeting.data or {})
        rejoins = [dict(entry) for entry in data.get("bot_rejoins") or []]
        if not rejoins or rejoins[-1].get("resumed_at"):
            return
        rejoins[-1]["resumed_at"] = now_iso_z()
        meeting.data = {**data, "bot_rejoins": rejoins}
        meeting.save(update_fields=["data", "updated_at"])


def bot_can_take_over(meeting: Meeting) -> bool:
    """Whether a new bot may take over the meeting should its bot be lost: it was let into the
    call (`active`, or back in the waiting room after a rejoin) and has rejoins left
    (`BOT_MAX_REJOINS`, counted over the meeting)."""
    rejoins = len((meeting.data or {}).get("bot_rejoins") or [])
    return (
        meeting.status in (S.ACTIVE, S.AWAITING_ADMISSION)
        and meeting.start_time is not None
        and rejoins < settings.BOT_MAX_REJOINS
    )


def bot_takeover(*, meeting_id: int, lost_before: datetime, cause: str) -> str | None:
    """Hand a meeting whose bot was lost (its worker killed, its host gone) and that a new bot
    may take over (`bot_can_take_over`) to a new bot, which rejoins the call in a session of
    its own: noted in `data.bot_rejoins`.

    Returns the token the new bot claims the meeting with (`run_bot(takeover=...)`), or None
    when the meeting moved meanwhile (it ended, or its bot heartbeated after `lost_before`).
    The lost bot, should it still be running, finds the meeting no longer its own at its next
    heartbeat and leaves without touching the status.
    """
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        heartbeat = meeting.bot_heartbeat_at
        if not bot_can_take_over(meeting) or (heartbeat is not None and heartbeat >= lost_before):
            return None
        token = f"takeover:{secrets.token_hex(8)}"
        _rejoin_noted(meeting, cause)
        meeting.bot_container_id = token
        # Counted from now: a takeover no worker starts is judged lost again in its turn.
        meeting.bot_heartbeat_at = timezone.now()
        meeting.save(update_fields=["data", "bot_container_id", "bot_heartbeat_at", "updated_at"])
        # Robust: a broker away must not end the sweep; a takeover nobody starts is judged
        # lost again after the heartbeat timeout.
        _enqueue_run_bot_on_commit(meeting_id, token)
    return token


def bot_attendance_record(
    *, meeting_id: int, attendance: list[dict[str, Any]], announce: bool = True
) -> None:
    """Store who the bot saw in the call and when (`data.attendance`, replaced whole: the bot
    holds the full list). The row is locked, so a transition or a PATCH writing `data` at the
    same moment keeps its change. With `announce`, each stay new since the stored list is a
    `participant.joined` and each stay ended since a `participant.left` (webhook and live
    events); the bot's last save, as it leaves, ends everyone's stay and announces nothing:
    they did not leave, the bot did."""
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        before = (meeting.data or {}).get("attendance") or []
        meeting.data = {**(meeting.data or {}), "attendance": attendance}
        meeting.save(update_fields=["data", "updated_at"])
        if announce:
            changes = attendance_changes(before, attendance)
            if changes:
                _announce(meeting_id, changes)


def attendance_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[Happened]:
    """Who joined and who left between two attendance lists, oldest first, as `_announce`
    takes them; a stay is one person from their `joined_at`."""
    ended = {
        (str(stay.get("name")), str(stay.get("joined_at")))
        for stay in before
        if isinstance(stay, dict) and stay.get("left_at")
    }
    known = {
        (str(stay.get("name")), str(stay.get("joined_at")))
        for stay in before
        if isinstance(stay, dict)
    }
    changes: list[Happened] = []
    for stay in after:
        if not isinstance(stay, dict) or not stay.get("name") or not stay.get("joined_at"):
            continue  # not a stay the bot wrote
        name, joined_at, left_at = str(stay["name"]), str(stay["joined_at"]), stay.get("left_at")
        stay_key = f"participant:{joined_at}:{name}"
        if (name, joined_at) not in known:
            payload = {"name": name, "timestamp": joined_at}
            changes.append(("participant.joined", f"{stay_key}:joined", payload))
        if left_at and (name, joined_at) not in ended:
            payload = {"name": name, "timestamp": left_at}
            changes.append(("participant.left", f"{stay_key}:left", payload))
    changes.sort(key=lambda change: change[2]["timestamp"])
    return changes
