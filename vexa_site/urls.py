"""Root URLs. Each app owns its own `urls.py`; paths follow Vexa's API (no trailing slash)."""

import logging

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from vexa_site import health
from vexa_site.metrics import metrics
from vexa_site.status_page import status_page

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and Redis answer too (503 naming the one that does not). The
    errors themselves (host names, ports) are logged, not shown: this URL is public."""
    checks = health.readiness()
    ready = all(state == "ok" for state in checks.values())
    if not ready:
        logger.error("not ready: %s", checks)
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            **{name: "ok" if state == "ok" else "error" for name, state in checks.items()},
        },
        status=200 if ready else 503,
    )


urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("django-admin/status/", admin.site.admin_view(status_page), name="admin_status"),
    path("dashboard/", include("dashboard.urls")),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    # /admin/* is Vexa's Admin API, so Django's admin site lives elsewhere.
    path("django-admin/", admin.site.urls),
    path("", include("accounts.urls")),
    # Before meetings.urls, whose `meetings/<platform>/<native_id>` would match first
    # (`meetings/<id>/transcribe`, `meetings/<id>/speakers`).
    path("", include("transcripts.engine_urls")),
    path("", include("transcripts.urls")),
    path("", include("meetings.urls")),
    path("", include("bots.urls")),
    path("", include("webhooks.urls")),
    path("", include("calendars.urls")),
    path("", include("meetings.recordings_urls")),
    path("", include("transcripts.realtime_urls")),
    path("", include("mcp_server.urls")),
    path("simulator/", include("bots.simulator_urls")),
]

handler400 = "vexa_site.errors.json_400"
handler404 = "vexa_site.errors.json_404"
handler500 = "vexa_site.errors.json_500"
