"""Admin API (`X-Admin-API-Key`) and the user's own settings (`X-API-Key`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.auth import AdminKeyAuthentication, request_user
from accounts.models import ApiToken, User
from accounts.permissions import IsAdminKey, IsApiUser
from vexa_site import health
from vexa_site.input_guard import PG_BIGINT_MAX, PG_INTEGER_MAX


class TokenMaskedSerializer(serializers.ModelSerializer[ApiToken]):
    token = serializers.CharField(source="masked")
    user_id = serializers.IntegerField()

    class Meta:
        model = ApiToken
        fields = (
            "id",
            "token",
            "user_id",
            "name",
            "scopes",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked",
        )


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields: tuple[str, ...] = (
            "id",
            "email",
            "name",
            "image_url",
            "max_concurrent_bots",
            "data",
            "created_at",
        )

    def to_representation(self, instance: User) -> dict[str, Any]:
        rep = super().to_representation(instance)
        if isinstance(rep.get("data"), dict) and rep["data"].get("webhook_secret"):
            rep["data"] = {**rep["data"], "webhook_secret": "***"}
        return rep


class UserDetailSerializer(UserSerializer):
    api_tokens = TokenMaskedSerializer(many=True)

    class Meta(UserSerializer.Meta):
        fields = (*UserSerializer.Meta.fields, "api_tokens")


class AdminApi(APIView):
    authentication_classes = [AdminKeyAuthentication]
    permission_classes = [IsAdminKey]


class AdminUsersApi(AdminApi):
    class CreateInput(serializers.Serializer[Any]):
        email = serializers.EmailField(max_length=254)
        name = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=255
        )
        image_url = serializers.URLField(
            required=False, allow_null=True, allow_blank=True, max_length=1024
        )
        max_concurrent_bots = serializers.IntegerField(
            required=False, min_value=0, max_value=PG_INTEGER_MAX
        )
        data = serializers.DictField(required=False)  # type: ignore[assignment]

    class ListInput(serializers.Serializer[Any]):
        skip = serializers.IntegerField(
            required=False, min_value=0, max_value=PG_BIGINT_MAX, default=0
        )
        limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)

    @extend_schema(
        operation_id="admin_users_list",
        parameters=[ListInput],
        responses=UserSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = self.ListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        users = selectors.user_list(**params.validated_data)
        return Response(UserSerializer(users, many=True).data)

    @extend_schema(
        operation_id="admin_users_create",
        description="Find-or-create by email: 201 when created, 200 with the existing user.",
        request=CreateInput,
        responses={201: UserSerializer, 200: UserSerializer},
    )
    def post(self, request: Request) -> Response:
        body = self.CreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        fields["name"] = fields.get("name") or ""
        fields["image_url"] = fields.get("image_url") or None
        user, created = services.user_get_or_create(**fields)
        return Response(
            UserSerializer(user).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AdminUserDetailApi(AdminApi):
    class UpdateInput(serializers.Serializer[Any]):
        name = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=255
        )
        image_url = serializers.URLField(
            required=False, allow_null=True, allow_blank=True, max_length=1024
        )
        max_concurrent_bots = serializers.IntegerField(
            required=False, min_value=0, max_value=PG_INTEGER_MAX
        )
        data = serializers.DictField(required=False, allow_null=True)  # type: ignore[assignment]

    @extend_schema(operation_id="admin_users_get", responses=UserDetailSerializer)
    def get(self, request: Request, user_id: int) -> Response:
        return Response(UserDetailSerializer(selectors.user_get(user_id=user_id)).data)

    @extend_schema(
        operation_id="admin_users_update",
        description="Partial update; `data` keys are merged into the stored data.",
        request=UpdateInput,
        responses=UserSerializer,
    )
    def patch(self, request: Request, user_id: int) -> Response:
        user = selectors.user_get(user_id=user_id)
        body = self.UpdateInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.user_update(user=user, changes=dict(body.validated_data))
        return Response(UserSerializer(user).data)


class AdminUserByEmailApi(AdminApi):
    @extend_schema(operation_id="admin_users_get_by_email", responses=UserDetailSerializer)
    def get(self, request: Request, email: str) -> Response:
        return Response(UserDetailSerializer(selectors.user_get_by_email(email=email)).data)


class AdminUserTokensApi(AdminApi):
    class IssueInput(serializers.Serializer[Any]):
        scopes = serializers.CharField(required=False, allow_blank=True)
        name = serializers.CharField(required=False, allow_blank=True, max_length=255)
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    class IssuedSerializer(serializers.Serializer[Any]):
        id = serializers.IntegerField(source="token.id")
        token = serializers.CharField(source="plain")
        user_id = serializers.IntegerField(source="token.user_id")
        name = serializers.CharField(source="token.name")
        scopes = serializers.ListField(child=serializers.CharField(), source="token.scopes")
        created_at = serializers.DateTimeField(source="token.created_at")
        expires_at = serializers.DateTimeField(source="token.expires_at", allow_null=True)

    @extend_schema(
        operation_id="admin_users_tokens_create",
        description=(
            "Mint an API key. `scopes` (query or body) is a comma list of bot, tx, browser; "
            "default bot,tx. The token value is shown only in this response."
        ),
        parameters=[
            OpenApiParameter("scopes", str, required=False),
            OpenApiParameter("name", str, required=False),
        ],
        request=IssueInput,
        responses={201: IssuedSerializer},
    )
    def post(self, request: Request, user_id: int) -> Response:
        user = selectors.user_get(user_id=user_id)
        raw = {
            **request.query_params.dict(),
            **(request.data if isinstance(request.data, dict) else {}),
        }
        if isinstance(raw.get("scopes"), list):
            raw["scopes"] = ",".join(str(item) for item in raw["scopes"])
        body = self.IssueInput(data=raw)
        body.is_valid(raise_exception=True)
        scopes = services.parse_scopes(body.validated_data.get("scopes"))
        issued = services.token_issue(
            user=user,
            scopes=scopes,
            name=body.validated_data.get("name", ""),
            expires_at=body.validated_data.get("expires_at"),
        )
        return Response(self.IssuedSerializer(issued).data, status=status.HTTP_201_CREATED)


class AdminTokenApi(AdminApi):
    @extend_schema(operation_id="admin_tokens_revoke", responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        services.token_revoke(token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminStatusApi(AdminApi):
    @extend_schema(
        operation_id="admin_status",
        summary="System status",
        description=(
            "Workers that answer and the queues they consume, tasks waiting per queue, live "
            "meetings and the oldest bot waiting for a worker, when beat last ran the "
            "supervision, pending webhook deliveries, the recordings' disk; `problems` says in "
            "words what needs an operator (`ok` is true when there is none). Takes about a "
            "second: the workers are pinged."
        ),
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response(health.system_status())


class UserWebhookApi(APIView):
    permission_classes = [IsApiUser]

    class Input(serializers.Serializer[Any]):
        webhook_url = serializers.URLField(allow_null=True, allow_blank=True, max_length=2048)
        webhook_secret = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=255
        )

    @extend_schema(
        operation_id="user_webhook_set",
        description=(
            "Set (or clear, with null) the account's webhook URL. URLs resolving to private, "
            "loopback, link-local or metadata addresses are refused (422)."
        ),
        request=Input,
        responses=UserSerializer,
    )
    def put(self, request: Request) -> Response:
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.user_set_webhook(
            user=request_user(request),
            webhook_url=body.validated_data.get("webhook_url") or None,
            webhook_secret=body.validated_data.get("webhook_secret"),
        )
        return Response(UserSerializer(user).data)
