from django.urls import URLPattern, URLResolver, path

from bots import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("bots", api.BotCreateApi.as_view()),
    path("bots/status", api.BotStatusApi.as_view()),
    path("bots/<str:platform>/<str:native_meeting_id>", api.BotDetailApi.as_view()),
    path("bots/<str:platform>/<str:native_meeting_id>/config", api.BotConfigApi.as_view()),
    path("bots/<str:platform>/<str:native_meeting_id>/chat", api.BotChatApi.as_view()),
]
