from django.apps import AppConfig


class TranscriptsConfig(AppConfig):
    name = "transcripts"

    def ready(self) -> None:
        from meetings import events
        from transcripts import realtime

        # After commit only: a subscriber must never see a status the database rolled back.
        events.subscribe_after_commit(realtime.on_meeting_status)
