"""THE meeting lifecycle: the only code that changes `Meeting.status`.

`requested → joining → awaiting_admission → active → stopping → completed | failed`;
`completed` and `failed` are reachable from every live state and are final; `active →
awaiting_admission` is a bot that rejoined the call (its page or worker lost) and waits in the
waiting room to be let in again, the user's cue to admit it once more. Each transition
locks the row, checks the table, appends `{from, to, timestamp, source, reason,
completion_reason}` to `data.status_transition`, saves only the fields it touched, and
dispatches a `MeetingStatusEvent` (outbox handlers in the transaction, publishers after commit).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from meetings import events
from meetings.models import LIVE_STATUSES, Meeting, MeetingStatus
from vexa_site.errors import Conflict
from vexa_site.timestamps import iso_z, now_iso_z

logger = logging.getLogger(__name__)

S = MeetingStatus
ALLOWED: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.JOINING, S.STOPPING, S.COMPLETED, S.FAILED}),
    S.JOINING: frozenset({S.AWAITING_ADMISSION, S.ACTIVE, S.STOPPING, S.COMPLETED, S.FAILED}),
    S.AWAITING_ADMISSION: frozenset({S.ACTIVE, S.STOPPING, S.COMPLETED, S.FAILED}),
    S.ACTIVE: frozenset({S.AWAITING_ADMISSION, S.STOPPING, S.COMPLETED, S.FAILED}),
    S.STOPPING: frozenset({S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
}

# Known completion reasons (others are accepted but these are what the product emits).
COMPLETION_REASONS = (
    "stopped",
    "stopped_before_admission",
    "awaiting_admission_timeout",
    "awaiting_admission_rejected",
    "left_alone",
    "no_one_joined",
    "silence_timeout",
    "evicted",
    "meeting_ended",
    "max_bot_time_exceeded",
)


class InvalidTransition(Conflict):
    """The requested change is not allowed from the meeting's current status."""

    def __init__(self, meeting_id: int, from_status: str, to_status: str) -> None:
        self.meeting_id = meeting_id
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(f"Meeting {meeting_id} cannot go from {from_status} to {to_status}")


def _event(
    meeting: Meeting, entry: dict[str, Any], sequence: int, *, again: bool = False
) -> events.MeetingStatusEvent:
    return events.MeetingStatusEvent(
        meeting_id=meeting.pk,
        user_id=meeting.user_id,
        platform=meeting.platform,
        native_meeting_id=meeting.native_meeting_id,
        from_status=entry["from"],
        to_status=entry["to"],
        timestamp=entry["timestamp"],
        source=entry["source"],
        reason=entry.get("reason"),
        completion_reason=entry.get("completion_reason"),
        failure_stage=entry.get("failure_stage"),
        sequence=sequence,
        error=_failure_message(meeting) if entry["to"] == S.FAILED else None,
        again=again,
    )


def _failure_message(meeting: Meeting) -> str | None:
    details = (meeting.data or {}).get("error_details")
    message = details.get("message") if isinstance(details, dict) else None
    return str(message) if message else None


def record_created(meeting: Meeting, *, source: str = "user_api") -> None:
    """Write the initial `null → requested` history entry of a just-inserted meeting.

    Call inside the creating transaction; the `requested` event is published after commit.
    """
    entry = {
        "from": None,
        "to": meeting.status,
        "timestamp": now_iso_z(),
        "source": source,
        "reason": None,
    }
    meeting.data = {**(meeting.data or {}), "status_transition": [entry]}
    meeting.save(update_fields=["data", "updated_at"])
    events.dispatch(_event(meeting, entry, 0))


def transition(
    *,
    meeting_id: int,
    to: str,
    source: str,
    reason: str | None = None,
    completion_reason: str | None = None,
    failure_stage: str | None = None,
    error_details: dict[str, Any] | None = None,
    allowed_from: tuple[str, ...] | None = None,
    extra_data: dict[str, Any] | None = None,
) -> Meeting:
    """Move a meeting to status `to`; the single writer of `Meeting.status`.

    Locks the row (SELECT ... FOR UPDATE) so two racing transitions serialize: the second sees
    the first's result and is checked against it. Raises `InvalidTransition` (logged, nothing
    written) when the table or `allowed_from` refuses the move. `extra_data` keys are merged into
    `data` in the same write (e.g. evidence of a failed join).
    """
    to = MeetingStatus(to).value
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
        current = meeting.status
        permitted = to in ALLOWED[current] and (allowed_from is None or current in allowed_from)
        if not permitted:
            logger.warning(
                "refused transition of meeting %s: %s -> %s (source=%s, reason=%s)",
                meeting_id,
                current,
                to,
                source,
                reason,
            )
            raise InvalidTransition(meeting_id, current, to)
        now = timezone.now()
        entry: dict[str, Any] = {
            "from": current,
            "to": to,
            "timestamp": iso_z(now),
            "source": source,
            "reason": reason,
        }
        data = dict(meeting.data or {})
        if extra_data:
            data.update(extra_data)
        fields = ["status", "data", "updated_at"]
        if to == S.ACTIVE and meeting.start_time is None:
            meeting.start_time = now
            fields.append("start_time")
        if to == S.COMPLETED:
            entry["completion_reason"] = completion_reason or "stopped"
            data["completion_reason"] = entry["completion_reason"]
        if to == S.FAILED:
            entry["failure_stage"] = failure_stage or current
            data["failure_stage"] = entry["failure_stage"]
            if completion_reason:
                entry["completion_reason"] = completion_reason
                data["completion_reason"] = completion_reason
            if error_details:
                data["error_details"] = error_details
        if to in (S.COMPLETED, S.FAILED):
            meeting.end_time = now
            fields.append("end_time")
        history = list(data.get("status_transition") or [])
        again = any(h.get("to") == to for h in history)
        history.append(entry)
        data["status_transition"] = history
        meeting.data = data
        meeting.status = to
        meeting.save(update_fields=fields)
        events.dispatch(_event(meeting, entry, len(history) - 1, again=again))
    return meeting


def is_live(status: str) -> bool:
    return status in LIVE_STATUSES
