from django.urls import URLPattern, URLResolver, path

from meetings import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("meetings", api.MeetingListApi.as_view()),
    path("meetings/<int:meeting_id>", api.MeetingDetailApi.as_view()),
    path("meetings/<str:platform>/<str:native_meeting_id>", api.MeetingByNativeApi.as_view()),
]
