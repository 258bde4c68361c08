"""Operators see each user's calendars, when each was last read and why it failed."""

from __future__ import annotations

from django.contrib import admin

from calendars.models import CalendarEvent, CalendarFeed


class CalendarEventInline(admin.TabularInline[CalendarEvent, CalendarFeed]):
    model = CalendarEvent
    fields = ("title", "starts_at", "ends_at", "meeting", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin[CalendarFeed]):
    list_display = ("id", "user", "name", "url_hint", "last_synced_at", "last_error")
    list_select_related = ("user",)
    search_fields = ("user__email", "name")
    # The address reads the user's calendar: shown as its hint only, never edited here.
    fields = ("user", "name", "url_hint", "bot_name", "language", "last_synced_at", "last_error")
    readonly_fields = fields
    inlines = (CalendarEventInline,)

    def has_add_permission(self, request: object) -> bool:
        return False
