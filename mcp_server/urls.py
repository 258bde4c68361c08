from django.urls import path

from mcp_server import views
from mcp_server.api import McpApi

urlpatterns = [
    path("mcp", McpApi.as_view(), name="mcp"),
    path(
        ".well-known/oauth-protected-resource",
        views.protected_resource_metadata,
        name="oauth_protected_resource",
    ),
    # RFC 9728's form for a resource with a path (`/mcp`), which clients try first.
    path(".well-known/oauth-protected-resource/mcp", views.protected_resource_metadata),
    path(
        ".well-known/oauth-authorization-server",
        views.authorization_server_metadata,
        name="oauth_authorization_server",
    ),
    path("oauth/register", views.RegisterApi.as_view(), name="oauth_register"),
    path("oauth/authorize", views.authorize_view, name="oauth_authorize"),
    path("oauth/token", views.TokenApi.as_view(), name="oauth_token"),
]
