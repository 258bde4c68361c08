"""The meeting simulator, mounted at /simulator/ (404 everywhere while SIMULATOR_ENABLED is off)."""

from django.urls import URLPattern, URLResolver, path

from bots.simulator import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/scenarios", views.ScenariosApi.as_view()),
    path("api/host/<str:platform>/<str:native_meeting_id>", views.HostMeetingApi.as_view()),
    path(
        "api/host/<str:platform>/<str:native_meeting_id>/<str:action>",
        views.HostActionApi.as_view(),
    ),
    path(
        "api/meeting/<str:platform>/<str:native_meeting_id>/state",
        views.MeetingStateApi.as_view(),
    ),
    path("api/meeting/<str:platform>/<str:native_meeting_id>/join", views.MeetingJoinApi.as_view()),
    path(
        "api/meeting/<str:platform>/<str:native_meeting_id>/leave",
        views.MeetingLeaveApi.as_view(),
    ),
    path(
        "api/meeting/<str:platform>/<str:native_meeting_id>/chat",
        views.MeetingChatApi.as_view(),
    ),
    path(
        "api/meeting/<str:platform>/<str:native_meeting_id>/ready",
        views.MeetingMediaReadyApi.as_view(),
    ),
    path(
        "media/<str:platform>/<str:native_meeting_id>/<int:p_index>/<int:t_index>",
        views.media,
    ),
    path("host/<str:platform>/<str:native_meeting_id>", views.host_page),
    path("<str:platform>/<str:native_meeting_id>", views.meeting_page),
]
