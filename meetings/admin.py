"""Django admin for meetings: find them, read their status history and failure evidence.

Status is read-only here as everywhere: it changes only through `meetings.lifecycle`. The one
action, "Stop bot", calls the same service as `DELETE /bots/...`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from meetings import services as meeting_services
from meetings.models import (
    LIVE_STATUSES,
    BotChatMessage,
    ChatMessage,
    Meeting,
    MeetingSession,
    Recording,
)

# Where a failed join leaves its evidence in `data` (the bot runtime writes the second one).
EVIDENCE_KEYS = ("error_details", "join_failure_evidence")
SCREENSHOT_MAX_BYTES = 5 * 1024 * 1024


def _screenshot_data_uri(path_text: str) -> str | None:
    """The bot's screenshot inline, read only from BOT_EVIDENCE_DIR (never an arbitrary path)."""
    root = Path(settings.BOT_EVIDENCE_DIR).resolve()
    path = Path(path_text).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    if path.stat().st_size > SCREENSHOT_MAX_BYTES:
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _pretty(value: Any) -> SafeString:
    return format_html(
        '<pre style="white-space: pre-wrap; max-width: 60em">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, default=str),
    )


class _ShownInline(admin.TabularInline[Any, Meeting]):
    """A meeting's rows an operator reads in its page and never edits there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(str(name) for name in self.fields or ())

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MeetingSessionInline(_ShownInline):
    model = MeetingSession
    fields = ("session_uid", "started_at", "ended_at")


class RecordingInline(_ShownInline):
    model = Recording
    fields = ("status", "file_path", "size_bytes", "duration_s", "created_at", "completed_at")


class BotChatMessageInline(_ShownInline):
    """What the bot was asked to post in the meeting's chat, and whether it did."""

    model = BotChatMessage
    fields = ("text", "created_at", "sent_at", "error")


class ChatMessageInline(_ShownInline):
    """What participants posted in the meeting's chat, as the bot read it."""

    model = ChatMessage
    fields = ("sender", "text", "seen_at")


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin[Meeting]):
    list_display = (
        "id",
        "user",
        "platform",
        "native_meeting_id",
        "status",
        "completion_or_failure",
        "created_at",
        "start_time",
        "end_time",
    )
    list_filter = ("status", "platform", "created_at")
    search_fields = ("native_meeting_id", "user__email", "bot_container_id", "=id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    inlines = (MeetingSessionInline, RecordingInline, BotChatMessageInline, ChatMessageInline)
    actions = ("stop_bots",)
    readonly_fields = (
        "user",
        "platform",
        "native_meeting_id",
        "constructed_meeting_url",
        "status",
        "completion_or_failure",
        "status_history",
        "failure_evidence",
        "bot_container_id",
        "bot_heartbeat_at",
        "join_at",
        "start_time",
        "end_time",
        "created_at",
        "updated_at",
        "bot_settings",
        "user_data",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "user",
                    ("platform", "native_meeting_id"),
                    "constructed_meeting_url",
                    ("status", "completion_or_failure"),
                    ("join_at", "start_time", "end_time"),
                    ("bot_container_id", "bot_heartbeat_at"),
                    ("created_at", "updated_at"),
                )
            },
        ),
        ("Status history", {"fields": ("status_history",)}),
        ("Failure evidence", {"fields": ("failure_evidence",)}),
        ("Settings and metadata", {"fields": ("bot_settings", "user_data")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Meetings are created by POST /bots, which validates and enqueues the bot.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Meeting | None = None) -> bool:
        # A meeting whose bot is still in the call is deleted once the bot has left (Django
        # refuses a bulk delete that includes one: nothing is deleted then).
        if obj is not None and obj.status in LIVE_STATUSES:
            return False
        return super().has_delete_permission(request, obj)

    # Deletes go through `meetings_purge`: the rows' cascade alone would leave the recording
    # files on disk and the transcript in Redis's replay log.
    def delete_model(self, request: HttpRequest, obj: Meeting) -> None:
        meeting_services.meetings_purge(meeting_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> None:
        meeting_services.meetings_purge(meeting_ids=list(queryset.values_list("pk", flat=True)))

    @admin.display(description="completion / failure")
    def completion_or_failure(self, meeting: Meeting) -> str:
        data = meeting.data or {}
        if data.get("failure_stage"):
            return f"failed at {data['failure_stage']}"
        return str(data.get("completion_reason") or "")

    @admin.display(description="status history")
    def status_history(self, meeting: Meeting) -> SafeString:
        rows = (meeting.data or {}).get("status_transition") or []
        if not rows:
            return format_html("<em>{}</em>", "none")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.get("timestamp"),
                    row.get("from") or "∅",
                    row.get("to"),
                    row.get("source") or "",
                    row.get("reason") or "",
                    row.get("completion_reason") or row.get("failure_stage") or "",
                )
                for row in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>time</th><th>change</th><th>source</th><th>reason</th>"
            "<th>completion / failure</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="failure evidence")
    def failure_evidence(self, meeting: Meeting) -> SafeString:
        data = meeting.data or {}
        parts = [
            _pretty({key: data[key]}) for key in (*EVIDENCE_KEYS, "failure_stage") if data.get(key)
        ]
        if not parts:
            return format_html("<em>{}</em>", "none")
        evidence = data.get("join_failure_evidence")
        screenshot = evidence.get("screenshot") if isinstance(evidence, dict) else None
        if isinstance(screenshot, str) and (uri := _screenshot_data_uri(screenshot)):
            parts.append(format_html('<img src="{}" style="max-width: 60em">', uri))
        return format_html_join("", "{}", ((p,) for p in parts))

    @admin.display(description="bot settings")
    def bot_settings(self, meeting: Meeting) -> SafeString:
        config = {k: v for k, v in (meeting.bot_config or {}).items() if k != "passcode"}
        return _pretty(config)

    @admin.display(description="data (metadata)")
    def user_data(self, meeting: Meeting) -> SafeString:
        data = {
            k: v
            for k, v in (meeting.data or {}).items()
            if k not in ("status_transition", "failure_stage", *EVIDENCE_KEYS)
        }
        return _pretty(data)

    @admin.action(description="Stop the bot of the selected meetings")
    def stop_bots(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> None:
        from bots import services as bot_services

        stopped = 0
        for meeting in queryset.filter(status__in=LIVE_STATUSES):
            bot_services.bot_stop(meeting_id=meeting.pk, source="admin")
            stopped += 1
        self.message_user(request, f"Stop requested for {stopped} bot(s).", messages.SUCCESS)
