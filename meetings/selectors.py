"""Reads of meetings, always within the caller's own rows: another user's meeting is a 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from rest_framework.exceptions import ValidationError

from accounts.models import User
from bots.platforms import normalize_native_id
from meetings.models import Meeting, MeetingStatus, Platform
from transcripts.models import Segment
from transcripts.selectors import WordStart, search_terms, search_terms_check, segments_saying
from vexa_site.errors import InvalidInput, NotFound

MEETING_NOT_FOUND = "Meeting not found"
SEARCH_MAX_CHARS = 200


class MeetingFilter(django_filters.FilterSet):
    """`GET /meetings` filters (also usable by the dashboard)."""

    status = django_filters.ChoiceFilter(choices=MeetingStatus.choices)
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    q = django_filters.CharFilter(
        method="filter_text", max_length=SEARCH_MAX_CHARS, validators=[search_terms_check]
    )

    class Meta:
        model = Meeting
        fields = ("status", "platform", "q")

    def filter_text(self, queryset: QuerySet[Meeting], name: str, value: str) -> QuerySet[Meeting]:
        """Meetings with every word (or "quoted phrase") of `value`, each one where a word
        starts in the meeting's name or its final transcript, or anywhere in its platform id,
        in any case: "art" finds "Art" and "artists", not "start"."""
        for term in search_terms(value):
            said = Segment.objects.filter(segments_saying(term), meeting=OuterRef("pk"))
            queryset = queryset.filter(
                Q(WordStart(KeyTextTransform("name", "data"), term))
                | Q(native_meeting_id__icontains=term)
                | Exists(said)
            )
        return queryset


@dataclass(frozen=True)
class MeetingPage:
    meetings: list[Meeting]
    has_more: bool


def check_path_platform(platform: str) -> str:
    """An unknown platform in a URL path is a 422 naming the valid ones, like Vexa's enum."""
    if platform not in Platform.values:
        raise InvalidInput(
            [
                {
                    "loc": ["path", "platform"],
                    "msg": f"Unknown platform {platform!r}; expected one of {Platform.values}",
                    "type": "value_error.platform",
                }
            ]
        )
    return platform


def meetings_for(*, user: User) -> QuerySet[Meeting]:
    return Meeting.objects.filter(user=user)


def meeting_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> MeetingPage:
    """The user's meetings, newest first, in one query (one extra row tells `has_more`)."""
    filterset = MeetingFilter(data=filters or {}, queryset=meetings_for(user=user))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    qs = filterset.qs.order_by("-created_at", "-id")
    if limit is None:
        return MeetingPage(meetings=list(qs[offset:]), has_more=False)
    rows = list(qs[offset : offset + limit + 1])
    return MeetingPage(meetings=rows[:limit], has_more=len(rows) > limit)


def meeting_list_before(
    *, user: User, before: tuple[datetime, int] | None, limit: int
) -> MeetingPage:
    """The user's meetings newest first, from the first one older than `before` (the
    `created_at` and id of the last one a previous page showed): a meeting created or deleted
    between pages neither repeats nor hides one, as an offset would."""
    qs = meetings_for(user=user).order_by("-created_at", "-id")
    if before is not None:
        created_at, meeting_id = before
        qs = qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=meeting_id))
    rows = list(qs[: limit + 1])
    return MeetingPage(meetings=rows[:limit], has_more=len(rows) > limit)


def meeting_get(*, user: User, meeting_id: int) -> Meeting:
    meeting = meetings_for(user=user).filter(pk=meeting_id).first()
    if meeting is None:
        raise NotFound(MEETING_NOT_FOUND)
    return meeting


def _native_meetings(
    *, user: User, platform: str, native_meeting_id: str, meeting_id: int | None
) -> QuerySet[Meeting]:
    """The user's meetings with this platform id (only `meeting_id`, if given), newest first.

    One meeting id can be met several times (a bot per call). The id is matched in the
    spelling the bot was created with (`ABC-DEFG-HIJ` finds `abc-defg-hij`, `123 456 7890`
    finds `1234567890`).
    """
    check_path_platform(platform)
    native_meeting_id = normalize_native_id(platform, native_meeting_id)
    qs = meetings_for(user=user).filter(platform=platform, native_meeting_id=native_meeting_id)
    if meeting_id is not None:
        qs = qs.filter(pk=meeting_id)
    return qs.order_by("-created_at", "-id")


def meetings_by_native(
    *, user: User, platform: str, native_meeting_id: str, meeting_id: int | None = None
) -> list[Meeting]:
    """Every call held under this platform id (or exactly `meeting_id`); 404 when none."""
    meetings = list(
        _native_meetings(
            user=user, platform=platform, native_meeting_id=native_meeting_id, meeting_id=meeting_id
        )
    )
    if not meetings:
        raise NotFound(MEETING_NOT_FOUND)
    return meetings


def meeting_get_by_native(
    *, user: User, platform: str, native_meeting_id: str, meeting_id: int | None = None
) -> Meeting:
    """The user's newest meeting with this platform id (Vexa's paths name the latest), or
    exactly `meeting_id`, if given; 404 when none."""
    meeting = _native_meetings(
        user=user, platform=platform, native_meeting_id=native_meeting_id, meeting_id=meeting_id
    ).first()
    if meeting is None:
        raise NotFound(MEETING_NOT_FOUND)
    return meeting
