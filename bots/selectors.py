"""Reads of bots: a bot is a meeting whose status is live, seen only by its owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import User
from bots.platforms import normalize_native_id
from meetings.models import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    BotChatMessage,
    ChatMessage,
    Meeting,
)
from meetings.selectors import check_path_platform
from vexa_site.errors import NotFound
from vexa_site.timestamps import iso_z

BOT_NOT_FOUND = "Bot not found"
DEFAULT_BOT_NAME = "Vexa Bot"


def live_meetings_for(*, user: User) -> QuerySet[Meeting]:
    return Meeting.objects.filter(user=user, status__in=LIVE_STATUSES)


def bot_get_live(*, user: User, platform: str, native_meeting_id: str) -> Meeting:
    """The user's live meeting for this platform id (at most one: a database constraint)."""
    check_path_platform(platform)
    meeting = (
        live_meetings_for(user=user)
        .filter(
            platform=platform, native_meeting_id=normalize_native_id(platform, native_meeting_id)
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if meeting is None:
        raise NotFound(BOT_NOT_FOUND)
    return meeting


CHAT_NOT_POSTED = "the bot left the call before it could post it"


def bot_chat_list(*, meeting: Meeting) -> list[BotChatMessage]:
    """The messages the meeting's bot was asked to post in its chat, oldest first; once the
    meeting is over, one still waiting will never be posted, and says so."""
    messages = list(BotChatMessage.objects.filter(meeting=meeting))
    if meeting.status in TERMINAL_STATUSES:
        for message in messages:
            if message.status == "pending":
                message.error = CHAT_NOT_POSTED  # as read, not stored
    return messages


def bot_name(meeting: Meeting) -> str:
    """The name the meeting's bot goes by in the call."""
    return str((meeting.bot_config or {}).get("bot_name") or DEFAULT_BOT_NAME)


def chat_wire(*, sender: str, text: str, at: datetime, from_bot: bool) -> dict[str, Any]:
    """One message of the meeting's chat as the API and `chat.message` events carry it."""
    return {"sender": sender, "text": text, "timestamp": iso_z(at), "from_bot": from_bot}


def meeting_chat(
    *, meeting: Meeting, bot_messages: list[BotChatMessage] | None = None
) -> list[dict[str, Any]]:
    """The meeting's chat as its bot saw it, oldest first: what participants posted (read while
    the bot was in the call) and what the bot posted (from `bot_messages` where the caller
    has them: `bot_chat_list`'s); `chat_wire`'s fields, the time a datetime."""
    name = bot_name(meeting)
    if bot_messages is None:
        bot_messages = list(BotChatMessage.objects.filter(meeting=meeting, sent_at__isnull=False))
    entries = [
        (m.seen_at, m.pk, m.sender, m.text, False)
        for m in ChatMessage.objects.filter(meeting=meeting)
    ] + [(m.sent_at, m.pk, name, m.text, True) for m in bot_messages if m.sent_at is not None]
    entries.sort(key=lambda entry: entry[:2])
    return [
        {"sender": sender, "text": text, "timestamp": at, "from_bot": from_bot}
        for at, _pk, sender, text, from_bot in entries
    ]


def chat_read_rows(*, meeting_id: int, last: int) -> list[tuple[str, str]]:
    """The last `last` participants' messages read from the meeting's chat, oldest first, as
    (sender, text): where a bot taking over the meeting goes on reading."""
    newest = ChatMessage.objects.filter(meeting_id=meeting_id).order_by("-seen_at", "-id")
    return [(m.sender, m.text) for m in reversed(newest[:last])]


def bot_chat_waiting_exists() -> Exists:
    """For a meeting query's `annotate`: whether its bot has messages still to post."""
    return Exists(BotChatMessage.objects.filter(meeting=OuterRef("pk"), sent_at=None, error=""))


def bot_chat_waiting(*, meeting_id: int) -> list[BotChatMessage]:
    """The messages the bot has still to post, oldest first."""
    return list(BotChatMessage.objects.filter(meeting_id=meeting_id, sent_at=None, error=""))


def bot_running_list(*, user: User) -> list[Meeting]:
    """Every live bot of the user, scheduled ones included, newest first."""
    return list(live_meetings_for(user=user).order_by("-created_at", "-id"))


def bot_count_occupying(*, user: User) -> int:
    """Live bots that count against `max_concurrent_bots`: not those scheduled for later."""
    return live_meetings_for(user=user).exclude(join_at__gt=timezone.now()).count()
