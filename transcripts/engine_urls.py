from django.urls import URLPattern, URLResolver, path

from transcripts import engine_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("meetings/<int:meeting_id>/transcribe", engine_api.MeetingTranscribeApi.as_view()),
]
