"""Django admin for operators: endpoints (why one was disabled), events, delivery attempts.

Secrets are never shown here; the history is read-only because it is a record of what was sent.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from vexa_site.errors import DomainError
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointForm(forms.ModelForm[WebhookEndpoint]):
    """The API's rules for an endpoint hold here too: an operator cannot point one at a private
    address (SSRF) or subscribe it to an event that does not exist."""

    def clean_url(self) -> str:
        try:
            return services.endpoint_url_check(self.cleaned_data["url"])
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_event_types(self) -> list[str]:
        value = self.cleaned_data["event_types"]
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise forms.ValidationError("A list of event type names")
        try:
            return services.endpoint_event_types_check(value)
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    form = WebhookEndpointForm
    list_display = ("id", "user", "url", "enabled", "disabled_reason", "is_legacy", "created_at")
    list_filter = ("enabled", "is_legacy")
    search_fields = ("url", "user__email")
    fields = (
        "user",
        "url",
        "description",
        "event_types",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "last_success_at",
        "is_legacy",
    )
    readonly_fields = ("user", "disabled_at", "failing_since", "last_success_at", "is_legacy")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin[WebhookEvent]):
    list_display = ("id", "event_id", "event_type", "user", "created_at")
    list_filter = ("event_type",)
    search_fields = ("event_id", "dedupe_key", "user__email")
    readonly_fields = ("event_id", "dedupe_key", "user", "event_type", "data", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WebhookAttemptInline(admin.TabularInline[WebhookAttempt, WebhookDelivery]):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "url",
        "status_code",
        "latency_ms",
        "error",
        "attempted_at",
        "next_retry_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = (
        "id",
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status",)
    search_fields = ("event__event_id", "endpoint__url")
    readonly_fields = (
        "event",
        "endpoint",
        "status",
        "ordered",
        "attempt_count",
        "next_attempt_at",
        "retry_until",
        "last_status_code",
        "last_error",
        "created_at",
        "finished_at",
    )
    inlines = (WebhookAttemptInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
