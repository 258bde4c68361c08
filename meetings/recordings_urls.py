"""Recordings REST (`/recordings...`, no trailing slashes)."""

from django.urls import URLPattern, URLResolver, path

from meetings import recordings_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("recordings", recordings_api.RecordingListApi.as_view()),
    path("recordings/<int:recording_id>", recordings_api.RecordingDetailApi.as_view()),
    path("recordings/<int:recording_id>/download", recordings_api.RecordingDownloadApi.as_view()),
]
