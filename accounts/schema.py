"""OpenAPI security schemes for the two keys (imported by AccountsConfig.ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class AdminKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.AdminKeyAuthentication"
    name = "AdminApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Admin-API-Key"}


class ApiKeyOrBearerScheme(OpenApiAuthenticationExtension):
    """`/mcp`: the key as a bearer token (the header MCP clients set), or as `X-API-Key`."""

    target_class = "accounts.auth.ApiKeyOrBearerAuthentication"
    name = "BearerApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API key"}
