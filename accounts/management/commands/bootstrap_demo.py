"""Create (or reuse) the demo user and print a fresh API key, the admin key and the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Create the demo user, mint an API key for it, and print both keys."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="demo@example.com")
        parser.add_argument(
            "--operator-password-file",
            type=Path,
            help="Also create the operator account (Django admin, simulator host page) with the "
            "password in this file, unless it exists.",
        )
        parser.add_argument("--operator-email", default="operator@example.com")

    def handle(self, *args: Any, **options: Any) -> None:
        user, _created = services.user_get_or_create(
            email=options["email"], name="Demo", max_concurrent_bots=0
        )
        issued = services.token_issue(user=user, scopes=["bot", "tx", "browser"], name="demo")
        lines = [
            "",
            f"  Open        {settings.PUBLIC_BASE_URL}/docs",
            f"  Dashboard   {settings.PUBLIC_BASE_URL}/dashboard/ (sign in with the API key)",
            f"  Demo user   {user.email} (id {user.pk})",
            f"  API key     {issued.plain}",
            f"  Admin key   {settings.ADMIN_API_TOKEN}",
        ]
        password_file: Path | None = options["operator_password_file"]
        if password_file is not None:
            password = password_file.read_text().strip()
            operator, created = services.operator_ensure(
                email=options["operator_email"], password=password
            )
            shown = (
                password
                if created or operator.check_password(password)
                else "(password changed since; the file no longer applies)"
            )
            lines += [
                f"  Operator    {settings.PUBLIC_BASE_URL}/django-admin/ "
                f"(and the simulator's host pages)",
                f"              {operator.email} / {shown}",
            ]
        self.stdout.write("\n".join([*lines, ""]))
