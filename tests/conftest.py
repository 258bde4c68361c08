"""Shared fixtures: two users (alice, bob) with API keys, API clients, the admin key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from tests import processes

ADMIN_KEY = "test-admin-key-0123456789abcdef"
pytest_plugins = ["tests.calendars.calendar_support"]


@pytest.fixture(autouse=True)
def _admin_key() -> Any:
    with override_settings(ADMIN_API_TOKEN=ADMIN_KEY):
        yield


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("alice@example.com", name="Alice", max_concurrent_bots=0)


@pytest.fixture
def bob(db: Any) -> User:
    return User.objects.create_user("bob@example.com", name="Bob", max_concurrent_bots=0)


@pytest.fixture
def alice_key(alice: User) -> str:
    return account_services.token_issue(user=alice, scopes=["bot", "tx"]).plain


@pytest.fixture
def bob_key(bob: User) -> str:
    return account_services.token_issue(user=bob, scopes=["bot", "tx"]).plain


def backends_waiting_for_a_lock() -> int:
    """How many database sessions wait for a row lock now (a racer that blocked)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def api_client(key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_X_API_KEY=key)
    return client


@pytest.fixture
def alice_api(alice_key: str) -> APIClient:
    return api_client(alice_key)


@pytest.fixture
def bob_api(bob_key: str) -> APIClient:
    return api_client(bob_key)


@pytest.fixture
def admin_api() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_ADMIN_API_KEY=ADMIN_KEY)
    return client


@pytest.fixture(scope="module")
def daphne(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """A real Daphne serving the product for a module's tests (which need a transactional
    database to show it their rows); yields its base URL."""
    with django_db_blocker.unblock(), processes.daphne_server() as base:
        yield base


@pytest.fixture
def multilingual_model(tmp_path: Path) -> Iterator[Path]:
    """`WHISPER_MODEL` pointing at a multilingual model as the web process sees it: only its
    vocabulary (51865 tokens), which is all the API reads to know what the model can transcribe.
    No weights: none are downloadable here, and no test using this transcribes with it."""
    folder = tmp_path / "whisper-multilingual"
    folder.mkdir()
    (folder / "vocabulary.txt").write_text("".join(f"token{i}\n" for i in range(51865)))
    with override_settings(WHISPER_MODEL=str(folder)):
        yield folder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test's report carries the recent output of the workers and servers it ran
    against: what a bot or a worker logged is how a failure on a loaded machine is read."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    for label, lines in processes.output_tails().items():
        report.sections.append((f"output of {label}, last {len(lines)} lines", "".join(lines)))
