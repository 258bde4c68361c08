from django.urls import URLPattern, URLResolver, path

from dashboard import views

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.meetings_view, name="meetings"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("bots", views.bot_create_view, name="bot_create"),
    path("meetings/<int:meeting_id>", views.meeting_view, name="meeting"),
    path("meetings/<int:meeting_id>/events", views.meeting_events_view, name="meeting_events"),
    path("meetings/<int:meeting_id>/stop", views.meeting_stop_view, name="meeting_stop"),
    path("meetings/<int:meeting_id>/share", views.meeting_share_view, name="meeting_share"),
    path(
        "meetings/<int:meeting_id>/transcript.<str:fmt>",
        views.meeting_transcript_view,
        name="meeting_transcript",
    ),
    path("meetings/<int:meeting_id>/details", views.meeting_details_view, name="meeting_details"),
    path("meetings/<int:meeting_id>/speakers", views.meeting_speaker_view, name="meeting_speaker"),
    path("meetings/<int:meeting_id>/chat", views.meeting_chat_view, name="meeting_chat"),
    path(
        "meetings/<int:meeting_id>/transcribe",
        views.meeting_retranscribe_view,
        name="meeting_retranscribe",
    ),
    path("meetings/<int:meeting_id>/delete", views.meeting_delete_view, name="meeting_delete"),
    path("recordings/<int:recording_id>/audio", views.recording_view, name="recording"),
    path("settings", views.settings_view, name="settings"),
    path("settings/keys", views.key_create_view, name="key_create"),
    path("settings/keys/<int:token_id>/revoke", views.key_revoke_view, name="key_revoke"),
    path("settings/webhooks", views.webhook_create_view, name="webhook_create"),
    path("settings/webhooks/<int:endpoint_id>/test", views.webhook_test_view, name="webhook_test"),
    path("settings/calendars", views.calendar_create_view, name="calendar_create"),
    path("settings/calendars/<int:feed_id>/sync", views.calendar_sync_view, name="calendar_sync"),
    path(
        "settings/calendars/<int:feed_id>/delete",
        views.calendar_delete_view,
        name="calendar_delete",
    ),
    path(
        "settings/calendars/<int:feed_id>/events/<int:event_id>/bot",
        views.calendar_event_bot_view,
        name="calendar_event_bot",
    ),
    path(
        "settings/webhooks/<int:endpoint_id>/delete",
        views.webhook_delete_view,
        name="webhook_delete",
    ),
]
