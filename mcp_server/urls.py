from django.urls import path

from mcp_server.api import McpApi

urlpatterns = [path("mcp", McpApi.as_view(), name="mcp")]
