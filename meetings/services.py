"""Writes to meetings other than status (status belongs to `meetings.lifecycle`).

Every function is keyword-only, locks the meeting row it changes (so it never overwrites a
concurrent lifecycle transition's `data`), and raises `DomainError` subclasses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from meetings.models import (
    TERMINAL_STATUSES,
    IdempotencyKey,
    Meeting,
    Recording,
    RecordingStatus,
)
from meetings.stream import SessionStream
from vexa_site.errors import Conflict, InvalidInput
from vexa_site.timestamps import now_iso_z

logger = logging.getLogger(__name__)

# `PATCH /meetings/...` may change only these keys of `data`; everything else in `data`
# (status history, completion details) is the product's and is kept as is.
USER_DATA_KEYS = ("name", "notes", "participants", "languages")
# What an anonymized meeting keeps: how it went, nothing about who or what was said.
KEPT_ON_DELETE = ("status_transition", "completion_reason", "failure_stage")
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


def meeting_update_data(*, meeting_id: int, changes: dict[str, Any]) -> Meeting:
    """Apply a partial update of the user's metadata in `data`.

    A key that is present replaces the stored value (arrays are replaced, not merged); `None`
    or an empty string removes it. Keys outside `USER_DATA_KEYS` are ignored. A deleted
    (anonymized) meeting refuses changes (409).
    """
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        data = dict(meeting.data or {})
        if data.get("redacted"):
            raise Conflict("Meeting data was deleted; it can no longer be changed")
        for key in USER_DATA_KEYS:
            if key not in changes:
                continue
            value = changes[key]
            if value is None or value == "":
                data.pop(key, None)
            else:
                data[key] = value
        meeting.data = data
        meeting.save(update_fields=["data", "updated_at"])
    return meeting


RETRANSCRIPTION_STATES = ("queued", "done", "failed")


def retranscription_note(
    *,
    meeting_id: int,
    state: str,
    model: str | None = None,
    segments: int | None = None,
    error: str | None = None,
) -> None:
    """Note the post-meeting pass's progress in `data.retranscription`, which `GET /meetings`
    and the meeting page show: `queued` (with the model and when it was asked for), then
    `done` (with how many segments replaced the live ones) or `failed` (with why). A deleted
    meeting is left as it is: a pass that ends after the delete must not write back."""
    if state not in RETRANSCRIPTION_STATES:
        raise ValueError(f"unknown retranscription state {state!r}")
    now = now_iso_z()
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        data = dict(meeting.data or {})
        if data.get("redacted"):
            return
        if state == "queued":
            note: dict[str, Any] = {"state": state, "model": model, "requested_at": now}
        else:
            note = {**(data.get("retranscription") or {}), "state": state, "finished_at": now}
            if segments is not None:
                note["segments"] = segments
            if error is not None:
                note["error"] = error
        data["retranscription"] = note
        meeting.data = data
        meeting.save(update_fields=["data", "updated_at"])


def _file_inside(directory: Path, file_path: str) -> Path | None:
    """`file_path` (absolute, or relative to `directory`) only if it lies inside `directory`."""
    root = Path(directory).resolve()
    path = Path(file_path)
    path = (path if path.is_absolute() else root / path).resolve()
    return path if path.is_relative_to(root) else None


def _evidence_files(data: dict[str, Any]) -> list[Path]:
    evidence = data.get("join_failure_evidence")
    screenshot = evidence.get("screenshot") if isinstance(evidence, dict) else None
    if not isinstance(screenshot, str):
        return []
    path = _file_inside(settings.BOT_EVIDENCE_DIR, screenshot)
    return [path] if path is not None else []


def files_remove(paths: list[Path], *, finished_meeting_ids: Iterable[int] = ()) -> None:
    """Remove `paths`, then the recording folders of `finished_meeting_ids` that are left
    empty. Only a finished meeting's folder: a bot starting a session of a live one creates
    the folder and then its file, and the folder must not vanish in between."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            # The rows are gone already; a leftover file is logged for the operator.
            logger.exception("could not remove file %s of a deleted meeting", path)
    root = Path(settings.RECORDINGS_DIR)
    for meeting_id in finished_meeting_ids:
        with contextlib.suppress(OSError):  # absent, or still holding another recording
            (root / str(meeting_id)).rmdir()


def _remove_streams(meeting: Meeting, session_uids: list[str]) -> None:
    # The captured audio and the live events (SSE replay) of a finished meeting would expire
    # on their own; deleted data goes now.
    for session_uid in session_uids:
        SessionStream(session_uid).delete()
    # Imported here: transcripts builds on meetings, not the other way round.
    from transcripts.realtime import event_log_forget

    event_log_forget(
        meeting_id=meeting.pk,
        user_id=meeting.user_id,
        platform=meeting.platform,
        native_id=meeting.native_meeting_id,
    )


def meetings_delete(*, meeting_ids: list[int]) -> None:
    """`meeting_delete` for several meetings, all or none: one still live is a 409 and
    nothing is deleted."""
    with transaction.atomic():
        live = list(
            Meeting.objects.select_for_update()
            .filter(pk__in=meeting_ids)
            .exclude(status__in=TERMINAL_STATUSES)
            .values_list("status", flat=True)
        )
        if live:
            raise Conflict(
                f"A meeting with this id is {live[0]}; stop the bot and wait for it to finish first"
            )
        for meeting_id in meeting_ids:
            meeting_delete(meeting_id=meeting_id)


def meeting_delete(*, meeting_id: int, deleted_by: str | None = None) -> Meeting:
    """Delete a finished meeting's content and keep an anonymized stub (idempotent).

    Only `completed`/`failed` meetings (409 otherwise). Deletes segments, share links,
    recordings (rows now, files after commit), the chat (the bot's posts and the participants'
    messages), the failed join's screenshot, the sessions' audio streams and the meeting's live
    events (SSE replay) in Redis; clears the bot settings
    (passcode, metadata), the constructed URL, the user's metadata and the transcription
    checkpoints (which stops a worker still writing); keeps status history and
    completion details and marks `data.redacted` (and `data.deleted_by` when given, e.g.
    `retention`). Calling it again on a stub changes nothing.
    """
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        if meeting.status not in TERMINAL_STATUSES:
            raise Conflict(
                f"Meeting is {meeting.status}; stop the bot and wait for it to finish first"
            )
        if (meeting.data or {}).get("redacted"):
            return meeting
        files = [
            path
            for path in (
                _file_inside(settings.RECORDINGS_DIR, r.file_path) for r in meeting.recordings.all()
            )
            if path is not None
        ]
        files += _evidence_files(meeting.data or {})
        meeting.segments.all().delete()
        meeting.share_links.all().delete()
        meeting.recordings.all().delete()
        meeting.chat_messages.all().delete()
        meeting.chat_read.all().delete()
        old = meeting.data or {}
        meeting.data = {
            **{key: old[key] for key in KEPT_ON_DELETE if key in old},
            "redacted": True,
            "deleted_at": now_iso_z(),
        }
        if deleted_by:
            meeting.data["deleted_by"] = deleted_by
        meeting.bot_config = {}
        meeting.constructed_meeting_url = ""
        meeting.save(update_fields=["data", "bot_config", "constructed_meeting_url", "updated_at"])
        session_uids = list(meeting.sessions.values_list("session_uid", flat=True))
        # The transcription checkpoint holds recent words, the prompt and speakers' names. It
        # also names the worker that owns the session, so clearing it fences out a worker still
        # finishing the tail: its next write raises LeaseLost instead of writing segments back.
        meeting.sessions.update(transcriber_state={"finished": True, "redacted": True})
        transaction.on_commit(lambda: files_remove(files, finished_meeting_ids=[meeting.pk]))
        transaction.on_commit(lambda: _remove_streams(meeting, session_uids), robust=True)
    return meeting


def meetings_purge(*, meeting_ids: list[int]) -> int:
    """Delete meetings outright, rows included (an operator's delete in the Django admin, a
    deleted user's meetings): their content goes first as `meeting_delete` removes it, since
    the rows' cascade alone would leave recording files on disk and transcripts in Redis. One
    still live is a 409 and nothing is deleted. Returns how many meetings went."""
    with transaction.atomic():
        meetings_delete(meeting_ids=meeting_ids)
        deleted = Meeting.objects.filter(pk__in=meeting_ids).delete()[1].get("meetings.Meeting", 0)
    return int(deleted)


def meetings_expire(*, ended_before: datetime, limit: int = 100) -> int:
    """`meeting_delete` (as `deleted_by: retention`) for up to `limit` finished meetings that
    ended before `ended_before` and still hold content. Returns how many were deleted."""
    ids = list(
        Meeting.objects.filter(status__in=TERMINAL_STATUSES)
        .filter(
            Q(end_time__lt=ended_before) | Q(end_time__isnull=True, updated_at__lt=ended_before)
        )
        .exclude(data__has_key="redacted")
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for meeting_id in ids:
        meeting_delete(meeting_id=meeting_id, deleted_by="retention")
    return len(ids)


def recordings_expire(*, finished_before: datetime, limit: int = 500) -> int:
    """Delete up to `limit` recordings finished (completed or failed) before `finished_before`:
    rows now, files after commit; the transcript stays. One still being written is never
    touched, nor a file outside `RECORDINGS_DIR`. Returns how many went."""
    with transaction.atomic():
        recordings = list(
            Recording.objects.select_for_update(skip_locked=True)
            .exclude(status=RecordingStatus.IN_PROGRESS)
            .filter(
                Q(completed_at__lt=finished_before)
                | Q(completed_at__isnull=True, updated_at__lt=finished_before)
            )
            .order_by("id")[:limit]
        )
        files = [
            path
            for path in (_file_inside(settings.RECORDINGS_DIR, r.file_path) for r in recordings)
            if path is not None
        ]
        Recording.objects.filter(pk__in=[r.pk for r in recordings]).delete()
        finished = set(
            Meeting.objects.filter(
                pk__in={r.meeting_id for r in recordings}, status__in=TERMINAL_STATUSES
            ).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: files_remove(files, finished_meeting_ids=finished))
    return len(recordings)


def idempotency_keys_purge(*, created_before: datetime) -> int:
    """Delete every `Idempotency-Key` row created before `created_before` (they replay for
    `IDEMPOTENCY_KEY_TTL` only). Returns how many went."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=created_before).delete()
    return deleted


def request_fingerprint(body: Any) -> str:
    """A stable hash of a parsed JSON body (key order and whitespace do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotentResult:
    """The response to send: fresh (`replayed=False`) or the stored one of an earlier call."""

    status: int
    body: dict[str, Any]
    replayed: bool


def idempotent_call(
    *,
    user: User,
    scope: str,
    key: str,
    fingerprint: str,
    call: Callable[[], tuple[int, dict[str, Any], Meeting | None]],
) -> IdempotentResult:
    """Run `call` at most once per (user, scope, key) within `IDEMPOTENCY_KEY_TTL`.

    Same key and same fingerprint: the stored response, nothing run. Same key, other
    fingerprint: 422. The key row is inserted in `call`'s transaction: a concurrent duplicate
    waits on the unique index until the first commits and then replays it; if the first fails
    (its error rolls the row back) the key is free again, so errors are never replayed.
    """
    key = key.strip()
    if not key or len(key) > 255:
        raise InvalidInput("Idempotency-Key must be 1 to 255 characters")
    with transaction.atomic():
        # Expired keys of this user go now (no sweeper needed): a reused key starts afresh.
        IdempotencyKey.objects.filter(
            user=user, created_at__lt=timezone.now() - IDEMPOTENCY_KEY_TTL
        ).delete()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    user=user, scope=scope, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.get(user=user, scope=scope, key=key)
            if existing.fingerprint != fingerprint:
                raise InvalidInput(
                    "Idempotency-Key was already used with a different request body"
                ) from None
            return IdempotentResult(
                status=existing.response_status or 200,
                body=existing.response_body or {},
                replayed=True,
            )
        status, body, meeting = call()
        row.response_status = status
        row.response_body = body
        row.meeting = meeting
        row.save(update_fields=["response_status", "response_body", "meeting"])
    return IdempotentResult(status=status, body=body, replayed=False)
