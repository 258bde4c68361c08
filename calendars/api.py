"""REST for calendar feeds (`X-API-Key`, scope `bot`: a feed sends bots).

An extension: Vexa has no calendars. Recall and Meeting BaaS join a user's calendar through
OAuth; a self-hosted server reads the calendar's own iCalendar address instead (Google
Calendar's "secret address in iCal format", Outlook's published ICS link), which needs no app
registration with the calendar's vendor.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from accounts.permissions import HasBotScope
from calendars import selectors, services
from calendars.models import CalendarEvent, CalendarFeed
from vexa_site.input_guard import ClosedInput


class CalendarEventSerializer(serializers.ModelSerializer[CalendarEvent]):
    meeting_status = serializers.CharField(source="meeting.status", allow_null=True, default=None)
    join_at = serializers.DateTimeField(source="meeting.join_at", allow_null=True, default=None)

    class Meta:
        model = CalendarEvent
        fields: tuple[str, ...] = (
            "id",
            "title",
            "starts_at",
            "ends_at",
            "meeting_url",
            "meeting_id",
            "meeting_status",
            "join_at",
            "error",
            "skipped",
        )


class CalendarFeedSerializer(serializers.ModelSerializer[CalendarFeed]):
    events = CalendarEventSerializer(many=True)

    class Meta:
        model = CalendarFeed
        fields: tuple[str, ...] = (
            "id",
            "name",
            "url_hint",
            "bot_name",
            "language",
            "last_synced_at",
            "last_error",
            "created_at",
            "events",
        )


class SyncResultSerializer(serializers.Serializer[Any]):
    scheduled = serializers.IntegerField()
    moved = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    refused = serializers.IntegerField()


class CalendarWithSyncSerializer(CalendarFeedSerializer):
    # Null when the calendar could not be read (`last_error` says why).
    sync = SyncResultSerializer(allow_null=True)

    class Meta(CalendarFeedSerializer.Meta):
        fields = (*CalendarFeedSerializer.Meta.fields, "sync")


def _with_sync(feed: CalendarFeed, result: services.SyncResult | None) -> dict[str, Any]:
    # Read back through the selector: the events as the sync left them, bots included.
    data = dict(CalendarFeedSerializer(feed).data)
    data["sync"] = SyncResultSerializer(result).data if result is not None else None
    return data


class CalendarsApi(APIView):
    permission_classes = [HasBotScope]

    class CalendarCreateInput(ClosedInput):
        url = serializers.CharField(max_length=2048)
        name = serializers.CharField(required=False, allow_blank=True, max_length=255)
        bot_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
        language = serializers.CharField(required=False, allow_blank=True, max_length=16)

    class CalendarListOutput(serializers.Serializer[Any]):
        calendars = CalendarFeedSerializer(many=True)

    @extend_schema(operation_id="calendars_list", responses=CalendarListOutput)
    def get(self, request: Request) -> Response:
        feeds = selectors.feed_list(user=request_user(request))
        return Response({"calendars": CalendarFeedSerializer(feeds, many=True).data})

    @extend_schema(
        operation_id="calendars_create",
        summary="Add a Calendar",
        description=(
            "Add a calendar by its iCalendar address (`https://` or `webcal://`). It is read at "
            "once and then every few minutes: each event with a Google Meet, Teams or Zoom link "
            "that starts within the horizon (a day by default) gets a bot scheduled to join a "
            "minute before it starts (one under way, at once); a moved event moves its bot, a "
            "cancelled or removed one stops it if it has not started. The URL is shown only as "
            "`url_hint` from now on: whoever has it can read the calendar. 422 when the URL is "
            "private or does not give an iCalendar file (nothing is saved)."
        ),
        request=CalendarCreateInput,
        responses={201: CalendarWithSyncSerializer},
    )
    def post(self, request: Request) -> Response:
        body = self.CalendarCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = request_user(request)
        feed, result = services.feed_create(user=user, **body.validated_data)
        feed = selectors.feed_get(user=user, feed_id=feed.pk)
        return Response(_with_sync(feed, result), status=status.HTTP_201_CREATED)


class CalendarDetailApi(APIView):
    permission_classes = [HasBotScope]

    @extend_schema(operation_id="calendars_get", responses=CalendarFeedSerializer)
    def get(self, request: Request, calendar_id: int) -> Response:
        feed = selectors.feed_get(user=request_user(request), feed_id=calendar_id)
        return Response(CalendarFeedSerializer(feed).data)

    @extend_schema(
        operation_id="calendars_delete",
        description="Remove the calendar; its bots that have not started are stopped.",
        responses={204: None},
    )
    def delete(self, request: Request, calendar_id: int) -> Response:
        feed = selectors.feed_get(user=request_user(request), feed_id=calendar_id)
        services.feed_delete(feed=feed)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarSyncApi(APIView):
    permission_classes = [HasBotScope]

    @extend_schema(
        operation_id="calendars_sync",
        description=(
            "Read the calendar now instead of at the next round. `sync` is null when it could "
            "not be read; `last_error` says why, and the bots already scheduled stay."
        ),
        request=None,
        responses=CalendarWithSyncSerializer,
    )
    def post(self, request: Request, calendar_id: int) -> Response:
        user = request_user(request)
        feed = selectors.feed_get(user=user, feed_id=calendar_id)
        result = services.calendar_sync(feed_id=feed.pk)
        return Response(_with_sync(selectors.feed_get(user=user, feed_id=feed.pk), result))


class CalendarEventBotApi(APIView):
    permission_classes = [HasBotScope]

    @extend_schema(
        operation_id="calendars_event_bot_add",
        summary="Send a Bot to a Calendar Event",
        description=(
            "Send a bot to one event of the calendar again: one skipped, or one whose bot was "
            "stopped or has left. It joins a minute before the event starts, or at once when "
            "that has passed; an event whose bot is on its way or in the call keeps it. 422 "
            "when the event has ended; a bot refused (another bot in that meeting, no free "
            "slot, the user's limit) answers as `POST /bots` would, and nothing changes."
        ),
        request=None,
        responses=CalendarEventSerializer,
    )
    def post(self, request: Request, calendar_id: int, event_id: int) -> Response:
        event = selectors.event_get(
            user=request_user(request), feed_id=calendar_id, event_id=event_id
        )
        return Response(CalendarEventSerializer(services.event_bot_add(event=event)).data)

    @extend_schema(
        operation_id="calendars_event_bot_remove",
        summary="Skip a Calendar Event",
        description=(
            "No bot for this event: its bot is stopped wherever it is (scheduled, in the lobby, "
            "in the call) and later reads of the calendar send none (`skipped`), even when the "
            "event moves, until `POST` on the same address."
        ),
        request=None,
        responses=CalendarEventSerializer,
    )
    def delete(self, request: Request, calendar_id: int, event_id: int) -> Response:
        event = selectors.event_get(
            user=request_user(request), feed_id=calendar_id, event_id=event_id
        )
        return Response(CalendarEventSerializer(services.event_bot_remove(event=event)).data)
