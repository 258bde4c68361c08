"""WebSocket routes (the transcripts app owns the consumer)."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
