"""The meeting event hooks: every status transition becomes one `MeetingStatusEvent`, and every
finished output (a completed recording, a session's final transcript) and what happened in the
call (a chat message, someone joining or leaving) one `MeetingOutputEvent`.

Two kinds of subscribers:
- in-transaction handlers run inside the transaction that changed the status (an outbox row
  written there commits or rolls back with the change: webhooks);
- after-commit handlers run once the change is committed (WebSocket/SSE publish, tasks).
Apps register their handlers in `AppConfig.ready()`. Output events have in-transaction
subscribers only (webhooks): nothing live waits for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from django.db import transaction

from meetings.models import Meeting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeetingStatusEvent:
    """A committed (or committing) status change of one meeting.

    `sequence` is the index of the transition in `data.status_transition`, so
    (meeting_id, sequence) identifies the logical event: a re-emission has the same pair.
    """

    meeting_id: int
    user_id: int
    platform: str
    native_meeting_id: str
    from_status: str | None
    to_status: str
    timestamp: str
    source: str
    reason: str | None
    completion_reason: str | None
    failure_stage: str | None
    sequence: int
    # Why a failed meeting failed, in words (`data.error_details.message`); None otherwise.
    error: str | None = None
    # The meeting was in `to_status` before: its bot, back from a rejoin, was let in again.
    again: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Handler = Callable[[MeetingStatusEvent], None]
_in_transaction: list[Handler] = []
_after_commit: list[Handler] = []


def subscribe_in_transaction(handler: Handler) -> None:
    if handler not in _in_transaction:
        _in_transaction.append(handler)


def subscribe_after_commit(handler: Handler) -> None:
    if handler not in _after_commit:
        _after_commit.append(handler)


def dispatch(event: MeetingStatusEvent) -> None:
    """Call from inside the transaction that made the change (lifecycle does)."""
    for handler in list(_in_transaction):
        handler(event)

    def _after() -> None:
        for handler in list(_after_commit):
            try:
                handler(event)
            except Exception:
                # One broken subscriber (e.g. Redis down) must not hide the event from others;
                # the database already holds the truth.
                logger.exception("meeting event handler %r failed for %s", handler, event)

    transaction.on_commit(_after, robust=True)


def unsubscribe(handler: Handler) -> None:
    """Remove a handler from both lists (tests that subscribe a probe clean up with this)."""
    for handlers in (_in_transaction, _after_commit):
        while handler in handlers:
            handlers.remove(handler)


OutputKind = Literal[
    "recording.completed",
    "transcript.ready",
    "chat.message",
    "participant.joined",
    "participant.left",
]


@dataclass(frozen=True)
class MeetingOutputEvent:
    """A meeting's output is ready (`recording.completed`, `transcript.ready`), or something
    happened in its call: a message posted in its chat (`chat.message`), someone joined or
    left (`participant.joined` / `participant.left`).

    `key` names the logical event (a re-emission has the same key, so a retried task sends
    nothing twice); `data` is what a receiver needs besides the meeting (ids, counts, paths).
    """

    kind: OutputKind
    meeting_id: int
    user_id: int
    platform: str
    native_meeting_id: str
    key: str
    data: dict[str, Any]


OutputHandler = Callable[[MeetingOutputEvent], None]
_output_in_transaction: list[OutputHandler] = []


def subscribe_output_in_transaction(handler: OutputHandler) -> None:
    if handler not in _output_in_transaction:
        _output_in_transaction.append(handler)


def dispatch_output(event: MeetingOutputEvent) -> None:
    """Call from inside the transaction that stored the output."""
    for handler in list(_output_in_transaction):
        handler(event)


def output_event(
    *, kind: OutputKind, meeting_id: int, key: str, data: dict[str, Any]
) -> MeetingOutputEvent:
    """The event for one of `meeting_id`'s outputs (reads the meeting's owner and ids)."""
    user_id, platform, native = Meeting.objects.values_list(
        "user_id", "platform", "native_meeting_id"
    ).get(pk=meeting_id)
    return MeetingOutputEvent(
        kind=kind,
        meeting_id=meeting_id,
        user_id=int(user_id),
        platform=str(platform),
        native_meeting_id=str(native),
        key=key,
        data=data,
    )
