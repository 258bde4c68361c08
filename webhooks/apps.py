from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from meetings import events
        from webhooks import services

        # In the transition's own transaction: the outbox rows commit or roll back with it.
        events.subscribe_in_transaction(services.meeting_status_event_record)
        events.subscribe_output_in_transaction(services.meeting_output_event_record)
