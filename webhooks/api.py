"""REST for webhook endpoints and their delivery history (`X-API-Key`).

Any valid user key may manage its own webhooks, whatever its scopes: a webhook is an account
setting like Vexa's `PUT /user/webhook` (which takes any key too), and it carries both bot
(`meeting.*`, `bot.failed`) and transcript (`transcript.ready`) events, so neither the `bot`
nor the `tx` scope alone would be the right gate.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from accounts.permissions import IsApiUser
from vexa_site.input_guard import MAX_PAGE, ClosedInput
from webhooks import selectors, services
from webhooks.models import (
    SUBSCRIBABLE_EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    legacy = serializers.BooleanField(source="is_legacy")
    event_types = serializers.ListField(child=serializers.CharField())
    secret_prefix = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "last_success_at",
            "legacy",
            "secret_prefix",
            "created_at",
            "updated_at",
        )

    def get_secret_prefix(self, obj: WebhookEndpoint) -> str | None:
        # Enough to tell secrets apart, never enough to forge a signature.
        return obj.secret[:10] + "..." if obj.secret else None


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField()

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")


class WebhookAttemptSerializer(serializers.ModelSerializer[WebhookAttempt]):
    class Meta:
        model = WebhookAttempt
        fields = (
            "number",
            "url",
            "status_code",
            "latency_ms",
            "error",
            "response_excerpt",
            "attempted_at",
            "next_retry_at",
        )


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    event_id = serializers.CharField(source="event.event_id")
    event_type = serializers.CharField(source="event.event_type")
    webhook_id = serializers.IntegerField(source="endpoint_id")
    next_retry_at = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    attempts = WebhookAttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "webhook_id",
            "event_id",
            "event_type",
            "status",
            "attempt_count",
            "last_status_code",
            "last_error",
            "next_retry_at",
            "retry_until",
            "created_at",
            "finished_at",
            "attempts",
        )


class _EventTypesField(serializers.ListField):
    child = serializers.ChoiceField(choices=SUBSCRIBABLE_EVENT_TYPES)


class WebhooksApi(APIView):
    permission_classes = [IsApiUser]

    class WebhookCreateInput(ClosedInput):
        url = serializers.URLField(max_length=2048)
        description = serializers.CharField(required=False, allow_blank=True, max_length=255)
        event_types = _EventTypesField(required=False)
        enabled = serializers.BooleanField(required=False, default=True)

    class WebhookListOutput(serializers.Serializer[Any]):
        webhooks = WebhookEndpointSerializer(many=True)

    @extend_schema(operation_id="webhooks_list", responses=WebhookListOutput)
    def get(self, request: Request) -> Response:
        endpoints = selectors.endpoint_list(user=request_user(request))
        return Response({"webhooks": WebhookEndpointSerializer(endpoints, many=True).data})

    @extend_schema(
        operation_id="webhooks_create",
        description=(
            "Add an endpoint. `event_types` empty or absent means every event but "
            "`chat.message`, `participant.joined` and `participant.left` (one per message "
            "posted in a meeting's chat, per person coming or going: name them to get them). "
            "The signing `secret` is in this response only. URLs resolving to private, loopback, "
            "link-local or metadata addresses are refused (422)."
        ),
        request=WebhookCreateInput,
        responses={201: WebhookEndpointWithSecretSerializer},
    )
    def post(self, request: Request) -> Response:
        body = self.WebhookCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(user=request_user(request), **body.validated_data)
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


class WebhookDetailApi(APIView):
    permission_classes = [IsApiUser]

    class WebhookUpdateInput(ClosedInput):
        url = serializers.URLField(required=False, max_length=2048)
        description = serializers.CharField(required=False, allow_blank=True, max_length=255)
        event_types = _EventTypesField(required=False)
        enabled = serializers.BooleanField(required=False)

    @extend_schema(operation_id="webhooks_get", responses=WebhookEndpointSerializer)
    def get(self, request: Request, webhook_id: int) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=webhook_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_update",
        description=(
            "Partial update. The new URL is used from the next attempt on, also for "
            "deliveries already queued. `enabled: true` re-enables a disabled endpoint."
        ),
        request=WebhookUpdateInput,
        responses=WebhookEndpointSerializer,
    )
    def patch(self, request: Request, webhook_id: int) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=webhook_id)
        body = self.WebhookUpdateInput(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, changes=dict(body.validated_data))
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_delete", responses={204: None})
    def delete(self, request: Request, webhook_id: int) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=webhook_id)
        services.endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTestApi(APIView):
    permission_classes = [IsApiUser]

    @extend_schema(
        operation_id="webhooks_test",
        description=(
            "Send a signed `webhook.test` event to the endpoint now and return the delivery "
            "with the attempt's status code, latency and error."
        ),
        request=None,
        responses=WebhookDeliverySerializer,
    )
    def post(self, request: Request, webhook_id: int) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=webhook_id)
        delivery = services.endpoint_test(endpoint=endpoint)
        return Response(WebhookDeliverySerializer(delivery).data)


class WebhookDeliveriesApi(APIView):
    permission_classes = [IsApiUser]

    class WebhookDeliveriesQuery(serializers.Serializer[Any]):
        page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=1)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)

    class WebhookDeliveryPage(serializers.Serializer[Any]):
        deliveries = WebhookDeliverySerializer(many=True)
        total = serializers.IntegerField()
        page = serializers.IntegerField()
        page_size = serializers.IntegerField()

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        description="Delivery history, newest first, each with its attempts.",
        parameters=[WebhookDeliveriesQuery],
        responses=WebhookDeliveryPage,
    )
    def get(self, request: Request, webhook_id: int) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=webhook_id)
        params = self.WebhookDeliveriesQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows, total = selectors.delivery_page(endpoint=endpoint, **params.validated_data)
        return Response(
            {
                "deliveries": WebhookDeliverySerializer(rows, many=True).data,
                "total": total,
                **params.validated_data,
            }
        )


class WebhookResendApi(APIView):
    permission_classes = [IsApiUser]

    @extend_schema(
        operation_id="webhooks_deliveries_resend",
        description=(
            "Send this delivery again with the same event id and body (a receiver that "
            "dedupes by `webhook-id` sees a duplicate it asked for). Sent by a worker: 202."
        ),
        request=None,
        responses={202: WebhookDeliverySerializer},
    )
    def post(self, request: Request, webhook_id: int, delivery_id: int) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=webhook_id)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        delivery = services.delivery_resend(delivery=delivery)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
