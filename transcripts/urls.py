from django.urls import URLPattern, URLResolver, path, re_path

from transcripts import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("transcripts/<str:platform>/<str:native_meeting_id>", api.TranscriptApi.as_view()),
    path("transcripts/<str:platform>/<str:native_meeting_id>/share", api.ShareApi.as_view()),
    path("meetings/<int:meeting_id>/speakers", api.SpeakersApi.as_view()),
    re_path(
        r"^public/transcripts/(?P<share_id>[A-Za-z0-9_-]{1,64})\.txt$",
        api.PublicTranscriptApi.as_view(),
    ),
]
