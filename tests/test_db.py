"""`db_retry`: the long-running jobs' database calls survive a dropped connection, and only that.

The connection is dropped the way PostgreSQL drops it on a restart or a failover: the server
terminates its backend (`pg_terminate_backend`), asked from a second connection.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.models import User
from tests import processes
from vexa_site.db import db_retry

pytestmark = pytest.mark.django_db(transaction=True)


def drop_this_connection() -> None:
    connection.ensure_connection()
    assert connection.connection is not None
    backend = connection.connection.info.backend_pid
    with psycopg.connect(processes.test_database_url(), autocommit=True) as admin:
        # With a timeout it returns once the backend has exited, not when it was signalled.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [backend])


def counted(call: Any) -> tuple[list[int], Any]:
    calls: list[int] = []

    def wrapper() -> Any:
        calls.append(1)
        return call()

    return calls, wrapper


def test_a_read_whose_connection_was_dropped_is_repeated_on_a_new_one(alice: User) -> None:
    drop_this_connection()
    calls, read = counted(lambda: User.objects.get(pk=alice.pk).email)

    assert db_retry(read, what="test") == "alice@example.com"
    assert len(calls) == 2


def test_a_transaction_whose_connection_was_dropped_is_repeated_whole(alice: User) -> None:
    def rename() -> None:
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=alice.pk)
            user.name = "Alice B."
            user.save(update_fields=["name"])

    drop_this_connection()
    calls, call = counted(rename)

    db_retry(call, what="test")
    assert len(calls) == 2
    assert User.objects.get(pk=alice.pk).name == "Alice B."


def test_inside_an_outer_transaction_the_error_is_raised_for_the_outer_block(
    alice: User,
) -> None:
    calls, read = counted(lambda: User.objects.get(pk=alice.pk))

    def outer() -> None:
        with transaction.atomic():
            drop_this_connection()
            db_retry(read, what="test")

    with pytest.raises(DatabaseError):
        outer()
    assert len(calls) == 1


def test_an_error_of_the_statement_is_raised_at_once(alice: User) -> None:
    calls, create = counted(lambda: User.objects.create_user("alice@example.com", name="Again"))
    with pytest.raises(IntegrityError):
        db_retry(create, what="test")
    assert len(calls) == 1
    assert User.objects.count() == 1


def test_a_connection_lost_for_longer_than_the_window_fails_the_call(
    alice: User, settings: Any
) -> None:
    settings.RECONNECT_WINDOW_S = 0
    drop_this_connection()
    calls, read = counted(lambda: User.objects.get(pk=alice.pk))
    with pytest.raises(DatabaseError):
        db_retry(read, what="test")
    assert len(calls) == 1
    connection.close()  # as the end of the task does (Celery's Django fixup)
