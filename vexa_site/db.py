"""Database calls of the long-running jobs: a bot's run and a session's live transcription.

Each holds one connection for the length of a meeting, and a connection can break under it: a
PostgreSQL restart or failover, a PgBouncer restart, an idle-connection reaper, a network blip.
Django reconnects only when a request or a task begins, so one broken connection failed the
whole meeting. These jobs make their database calls through `db_retry`, which reconnects and
repeats a call whose connection broke.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import Error, InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 2.0
# PostgreSQL's codes for a connection the server ended or refused: its "connection exception"
# class, and admin, crash and startup shutdown.
LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def connection_lost(exc: Error) -> bool:
    """Whether `exc` says the connection broke (not the statement) and a new one may succeed.

    Not by asking the connection: when the error ends a transaction, Django drops the broken
    connection and opens a new one on its way out of `atomic`.
    """
    if connection.vendor != "postgresql":
        return False  # SQLite is a file: there is no connection to lose
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate is None:
        # psycopg's own errors, with no server code: connecting failed, the socket closed.
        return isinstance(exc, OperationalError | InterfaceError)
    return str(sqlstate).startswith(LOST_SQLSTATES)


def db_retry(call: Callable[[], T], *, what: str) -> T:
    """Run `call`; if its connection broke, reconnect and run it again, for up to
    `RECONNECT_WINDOW_S`. `call` must be safe to repeat: a read, or one transaction
    (a broken connection rolled it back). Any other error, an error inside an outer
    transaction (only the outermost block can be repeated) and an outage longer than the
    window are raised."""
    deadline = time.monotonic() + settings.RECONNECT_WINDOW_S
    backoff_s = FIRST_BACKOFF_S
    while True:
        try:
            return call()
        except Error as exc:  # Django's InterfaceError is not a DatabaseError
            if connection.in_atomic_block or not connection_lost(exc):
                raise
            if time.monotonic() + backoff_s > deadline:
                raise
            log.warning("%s: the database connection broke (%s); reconnecting", what, exc)
            connection.close()
            time.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
