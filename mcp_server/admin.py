"""Operators see which assistants registered and whose consent they hold (codes only as
hashes); a client is removed to stop new sign-ins through it."""

from __future__ import annotations

from django.contrib import admin

from mcp_server.models import OAuthClient, OAuthGrant


@admin.register(OAuthClient)
class OAuthClientAdmin(admin.ModelAdmin[OAuthClient]):
    list_display = ("client_name", "client_id", "created_at")
    search_fields = ("client_name", "client_id")
    fields = ("client_name", "client_id", "redirect_uris", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(OAuthGrant)
class OAuthGrantAdmin(admin.ModelAdmin[OAuthGrant]):
    list_display = ("id", "client", "user", "scopes", "created_at", "used_at")
    list_select_related = ("client", "user")
    search_fields = ("user__email", "client__client_name")
    fields = (
        "client",
        "user",
        "redirect_uri",
        "scopes",
        "created_at",
        "expires_at",
        "used_at",
        "token",
    )
    readonly_fields = fields

    def has_add_permission(self, request: object) -> bool:
        return False
