"""`make run`'s first output: the keys it prints work, and the operator it prints can sign in."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.test import Client

from accounts.models import User
from tests.conftest import api_client


def bootstrap(password_file: Path) -> str:
    out = io.StringIO()
    call_command("bootstrap_demo", "--operator-password-file", str(password_file), stdout=out)
    return out.getvalue()


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

    api_key = re.search(r"API key\s+(\S+)", printed)
    assert api_key is not None
    assert api_client(api_key.group(1)).get("/meetings").status_code == 200
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
