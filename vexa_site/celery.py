"""The Celery app: every worker (bots, transcription, webhooks) and beat share it."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")

app = Celery("vexa_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
