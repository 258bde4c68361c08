from django.urls import URLPattern, URLResolver, path

from webhooks import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("webhooks", api.WebhooksApi.as_view()),
    path("webhooks/<int:webhook_id>", api.WebhookDetailApi.as_view()),
    path("webhooks/<int:webhook_id>/test", api.WebhookTestApi.as_view()),
    path("webhooks/<int:webhook_id>/deliveries", api.WebhookDeliveriesApi.as_view()),
    path(
        "webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/resend",
        api.WebhookResendApi.as_view(),
    ),
]
