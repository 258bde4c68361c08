from django.urls import URLPattern, URLResolver, path

from calendars import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("calendars", api.CalendarsApi.as_view()),
    path("calendars/<int:calendar_id>", api.CalendarDetailApi.as_view()),
    path("calendars/<int:calendar_id>/sync", api.CalendarSyncApi.as_view()),
    path(
        "calendars/<int:calendar_id>/events/<int:event_id>/bot",
        api.CalendarEventBotApi.as_view(),
    ),
]
