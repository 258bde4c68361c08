"""Reads of bots: a bot is a meeting whose status is live, seen only by its owner."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import User
from bots.platforms import normalize_native_id
from meetings.models import LIVE_STATUSES, TERMINAL_STATUSES, BotChatMessage, Meeting
from meetings.selectors import check_path_platform
from vexa_site.errors import NotFound

BOT_NOT_FOUND = "Bot not found"


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
