"""Django admin for operators: users, and tokens minted here are shown once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.models import ApiToken, User


class ApiTokenInline(admin.TabularInline[ApiToken, User]):
    model = ApiToken
    extra = 0
    can_delete = False
    fields = (
        "id",
        "prefix",
        "name",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    list_display = ("id", "email", "name", "max_concurrent_bots", "is_staff", "created_at")
    search_fields = ("email", "name")
    fields = ("email", "name", "image_url", "max_concurrent_bots", "data", "is_active", "is_staff")
    # Django 5's form default is http:// for a link typed without a scheme (and it warns).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = (ApiTokenInline,)
    actions = ("mint_token",)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        from meetings.models import LIVE_STATUSES

        # A user whose bot is still in a call is deleted once it has left (Django refuses a
        # bulk delete that includes one: nothing is deleted then).
        if obj is not None and obj.meetings.filter(status__in=LIVE_STATUSES).exists():
            return False
        return super().has_delete_permission(request, obj)

    # Deletes go through `user_delete`: the rows' cascade alone would leave the user's
    # recording files on disk and transcripts in Redis's replay log.
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_delete(user_id=user.pk)

    @admin.action(description="Mint an API token (bot, tx) and show it once")
    def mint_token(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            issued = services.token_issue(user=user, name="django-admin")
            self.message_user(
                request,
                f"Token for {user.email} (copy it now, it is not stored): {issued.plain}",
                messages.WARNING,
            )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = (
        "id",
        "user",
        "prefix",
        "name",
        "scopes",
        "last_used_at",
        "expires_at",
        "revoked",
    )
    list_filter = ("revoked",)
    search_fields = ("user__email", "name", "prefix")
    readonly_fields = ("user", "prefix", "token_hash", "created_at", "last_used_at", "revoked_at")
    fields = (
        "user",
        "name",
        "scopes",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked",
        "revoked_at",
    )
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are minted from the user page so that the plain value can be shown once.
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            services.token_revoke(token_id=token.pk)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")
