"""`make run`'s first output: the keys it prints work, and the operator it prints can sign in."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.test import Client

from accounts import services
from accounts.models import ApiToken, User
from tests.conftest import api_client


def bootstrap(password_file: Path) -> str:
    out = io.StringIO()
    key_file = password_file.parent / "demo_api_key"
    call_command(
        "bootstrap_demo",
        f"--operator-password-file={password_file}",
        f"--api-key-file={key_file}",
        stdout=out,
    )
    return out.getvalue()


def printed_key(printed: str) -> str:
    found = re.search(r"API key\s+(\S+)", printed)
    assert found is not None
    return found.group(1)


def admin_login(email: str, password: str) -> Client:
    browser = Client()
    signed_in = browser.post(
        "/django-admin/login/?next=/django-admin/", {"username": email, "password": password}
    )
    assert signed_in.status_code == 302, "sign-in refused"
    return browser


def test_the_printed_api_key_works_and_the_printed_operator_signs_in_to_the_admin(
    db: Any, tmp_path: Path
) -> None:
    password_file = tmp_path / "operator_password"
    password_file.write_text("first-start-password\n")

    printed = bootstrap(password_file)

    assert api_client(printed_key(printed)).get("/meetings").status_code == 200
    assert (
        f"claude mcp add --transport http meetings {settings.PUBLIC_BASE_URL}/mcp "
        f'--header "Authorization: Bearer {printed_key(printed)}"'
    ) in printed
    assert "operator@example.com / first-start-password" in printed
    admin = admin_login("operator@example.com", "first-start-password")
    assert admin.get("/django-admin/meetings/meeting/").status_code == 200
    index = admin.get("/django-admin/").content.decode()
    assert "API tokens" in index
    assert "Webhook deliveries" in index
    # The demo user is an API user, not an operator.
    assert not User.objects.get(email="demo@example.com").is_staff


def test_a_later_start_keeps_the_password_the_operator_chose(db: Any, tmp_path: Path) -> None:
    password_file = tmp_path / "operator_password"
    password_file.write_text("first-start-password\n")
    bootstrap(password_file)
    operator = User.objects.get(email="operator@example.com")
    operator.set_password("chosen-by-the-operator")
    operator.save()

    printed = bootstrap(password_file)

    assert "first-start-password" not in printed
    assert "password changed since" in printed
    admin_login("operator@example.com", "chosen-by-the-operator")


def test_a_restart_prints_the_same_key_until_it_is_revoked(db: Any, tmp_path: Path) -> None:
    password_file = tmp_path / "operator_password"
    password_file.write_text("first-start-password\n")
    first = printed_key(bootstrap(password_file))

    assert printed_key(bootstrap(password_file)) == first
    assert ApiToken.objects.filter(user__email="demo@example.com").count() == 1

    services.token_revoke(token_id=ApiToken.objects.get(user__email="demo@example.com").pk)
    replaced = printed_key(bootstrap(password_file))
    assert replaced != first
    assert api_client(replaced).get("/meetings").status_code == 200
    assert (tmp_path / "demo_api_key").read_text().strip() == replaced
