"""Django admin for transcript segments (read-only) and share links (revocable)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from transcripts.models import Segment, ShareLink


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin[Segment]):
    list_display = (
        "id",
        "meeting",
        "absolute_start_time",
        "speaker",
        "short_text",
        "language",
        "completed",
    )
    list_filter = ("completed", "language")
    search_fields = ("text", "speaker", "=meeting__id", "session_uid")
    list_select_related = ("meeting",)
    ordering = ("-absolute_start_time",)
    readonly_fields = tuple(f.name for f in Segment._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Segments are written by transcription only.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Segment | None = None) -> bool:
        return False

    @admin.display(description="text")
    def short_text(self, segment: Segment) -> str:
        return segment.text if len(segment.text) <= 80 else segment.text[:79] + "…"


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin[ShareLink]):
    list_display = ("id", "meeting", "masked_id", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("=meeting__id", "meeting__user__email")
    list_select_related = ("meeting",)
    readonly_fields = ("meeting", "masked_id", "created_at", "expires_at", "revoked_at")
    fields = readonly_fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="share id")
    def masked_id(self, link: ShareLink) -> str:
        # The id is the secret of a public link: operators see only enough to recognise it.
        return f"{link.share_id[:6]}…"

    @admin.action(description="Revoke the selected share links")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} share link(s).", messages.SUCCESS)
