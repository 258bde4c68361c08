"""Create (or reuse) the demo user and print its API key, the admin key and the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Create the demo user, give it an API key, and print it with the admin key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="demo@example.com")
        parser.add_argument(
            "--api-key-file",
            type=Path,
            help="Print the key in this file again while it works; otherwise mint one and save it.",
        )
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
        key_file: Path | None = options["api_key_file"]
        kept = key_file.read_text().strip() if key_file is not None and key_file.exists() else ""
        issued = services.token_keep_or_issue(
            user=user, plain=kept, scopes=["bot", "tx", "browser"], name="demo"
        )
        if key_file is not None and issued.plain != kept:
            key_file.touch(mode=0o600)
            key_file.write_text(issued.plain + "\n")
        lines = [
            "",
            f"  Open        {settings.PUBLIC_BASE_URL}/docs",
            f"  Dashboard   {settings.PUBLIC_BASE_URL}/dashboard/ (sign in with the API key)",
            f"  Demo user   {user.email} (id {user.pk})",
            f"  API key     {issued.plain}",
            f"  Admin key   {settings.ADMIN_API_TOKEN}",
            f"  MCP         claude mcp add --transport http meetings {settings.PUBLIC_BASE_URL}/mcp"
            f' --header "Authorization: Bearer {issued.plain}"',
        ]
        if settings.METRICS_TOKEN:
            lines.append(
                f"  Metrics     {settings.PUBLIC_BASE_URL}/metrics "
                f"(Authorization: Bearer {settings.METRICS_TOKEN})"
            )
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
