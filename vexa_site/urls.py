"""Root URLs. Each app owns its own `urls.py`; paths follow Vexa's API (no trailing slash)."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("dashboard/", include("dashboard.urls")),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    # /admin/* is Vexa's Admin API, so Django's admin site lives elsewhere.
    path("django-admin/", admin.site.urls),
    path("", include("accounts.urls")),
    # Before meetings.urls, whose `meetings/<platform>/<native_id>` would match first.
    path("", include("transcripts.engine_urls")),
    path("", include("meetings.urls")),
    path("", include("bots.urls")),
    path("", include("transcripts.urls")),
    path("", include("webhooks.urls")),
    path("", include("meetings.recordings_urls")),
    path("", include("transcripts.realtime_urls")),
    path("simulator/", include("bots.simulator_urls")),
]

handler400 = "vexa_site.errors.json_400"
handler404 = "vexa_site.errors.json_404"
handler500 = "vexa_site.errors.json_500"
