"""The operator's status page in the Django admin (staff only, through `admin_view`)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vexa_site import health


def status_page(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "System status",
        "status": health.system_status(),
    }
    return render(request, "admin/status.html", context)
