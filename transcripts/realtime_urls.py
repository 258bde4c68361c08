"""HTTP routes of real-time delivery (the WebSocket route is in `vexa_site.routing`)."""

from django.urls import URLPattern, URLResolver, path

from transcripts import sse

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "meetings/<str:platform>/<str:native_meeting_id>/stream",
        sse.meeting_stream,
        name="meeting-stream",
    ),
]
