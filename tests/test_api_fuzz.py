"""Schema-driven fuzzing: no documented operation answers generated input with a 500.

schemathesis generates requests from `/openapi.json` (valid and invalid ones, and values at
each documented bound) and sends them to the Django app in-process, with a key that has every
scope and the admin key. Bad input must get a 4xx in the documented shape, never a server
error: this is how numbers past PostgreSQL's integer ranges were found to be `DataError` 500s
(with those bounds removed, this test fails on `POST /admin/users`). Derandomized, so a run is
repeatable; 25 examples per operation take about 15 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts import services as account_services
from accounts.models import User
from tests.conftest import ADMIN_KEY

# The schema is read from the app itself: no request leaves the process.
schema = schemathesis.openapi.from_wsgi("/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def requests_keep_the_test_transaction() -> Iterator[None]:
    # As Django's test client does: the WSGI handler must not close the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def no_worker_waited_for(settings: Any) -> None:
    # No Celery worker runs here: the status operation need not wait a second per example
    # for one to answer its ping.
    settings.STATUS_PING_TIMEOUT_S = 0.05


@pytest.fixture
def fuzz_key(alice: User) -> str:
    return account_services.token_issue(user=alice, scopes=["bot", "tx", "browser"]).plain


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_generated_input_with_a_server_error(case: Any, fuzz_key: str) -> None:
    response = case.call(headers={"X-API-Key": fuzz_key, "X-Admin-API-Key": ADMIN_KEY})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
