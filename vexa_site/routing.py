"""WebSocket routes (the transcripts app owns the consumer)."""

from django.urls import URLPattern, path

from transcripts.consumers import MeetingEventsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws", MeetingEventsConsumer.as_asgi(), name="ws"),
]
