"""Create (or reuse) the demo user and print a fresh API key and the admin key."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Create the demo user, mint an API key for it, and print both keys."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="demo@example.com")

    def handle(self, *args: Any, **options: Any) -> None:
        user, _created = services.user_get_or_create(
            email=options["email"], name="Demo", max_concurrent_bots=0
        )
        issued = services.token_issue(user=user, scopes=["bot", "tx", "browser"], name="demo")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Open        {settings.PUBLIC_BASE_URL}/docs",
                    f"  Demo user   {user.email} (id {user.pk})",
                    f"  API key     {issued.plain}",
                    f"  Admin key   {settings.ADMIN_API_TOKEN}",
                    "",
                ]
            )
        )
