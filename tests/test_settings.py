"""Bad configuration stops the process at start with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base.update({"DEBUG": "1"})
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql2://nowhere"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("WHISPER_DEVICE", "tpu"),
        ("TRANSCRIPTION_PASS_BUDGET_S", "-1"),
        ("MEETING_RETENTION_DAYS", "-30"),
        ("RECORDING_FORMAT", "mp3"),
        ("RECORDING_RETENTION_DAYS", "inf"),
        ("WEBHOOK_DELIVERY_RETENTION_DAYS", "nan"),
        ("PLATFORM_URLS", "{not json"),
        ("API_RATE_LIMIT_PER_MINUTE", "lots"),
        ("ADMIN_API_TOKEN", "short"),
        ("PUBLIC_BASE_URL", "example.com"),
    ],
)
def test_an_invalid_value_fails_at_start_naming_the_variable(variable: str, value: str) -> None:
    result = run_check(**{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = run_check(DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_defaults_give_a_working_configuration() -> None:
    result = run_check()
    assert result.returncode == 0, result.stderr


def run_on_sqlite(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`script` run by Python with the product's settings on `make run`'s default database
    (SQLite, a new file under `tmp_path`); it must succeed."""
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


# Two threads of one process, each with its own connection as two processes would have: one
# holds a write transaction (a worker storing a pass's output) while the other, inside its own
# transaction, reads and then writes (as `emission_store` and the lifecycle services do).
SQLITE_WRITERS = """
import threading, time
import django
django.setup()
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE counter (n integer)")
    cursor.execute("INSERT INTO counter VALUES (0)")
connection.close()
holding = threading.Event()
errors = []

def writer():
    with transaction.atomic():
        connection.cursor().execute("UPDATE counter SET n = n + 1")
        holding.set()
        time.sleep(0.5)  # the transaction's work
    connection.close()

def reader_then_writer():
    holding.wait()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT n FROM counter")
                cursor.execute("UPDATE counter SET n = n + 1")
    except Exception as exc:
        errors.append(repr(exc))
    connection.close()

threads = [threading.Thread(target=target) for target in (writer, reader_then_writer)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT n FROM counter")
    print(errors, cursor.fetchone()[0])
"""


def test_the_default_sqlite_database_lets_a_second_writer_wait_for_the_first(
    tmp_path: Path,
) -> None:
    """`make run`'s SQLite file is shared by the web server and the workers. A transaction that
    read before it wrote failed at once with "database is locked" while another one was writing
    (a transcription worker crashed at a meeting's end); it must wait for the lock instead."""
    result = run_on_sqlite(SQLITE_WRITERS, tmp_path)
    assert result.stdout.split() == ["[]", "2"], result.stdout


SQLITE_SEARCH = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from accounts.models import User
from meetings import selectors
from tests.meetings.builders import add_segments, meeting_in
from transcripts.selectors import segment_first_matches
alice = User.objects.create(email="alice@example.com")
for native, line in [("aaa-aaaa-aaa", "The Art budget."), ("bbb-bbbb-bbb", "Start the party.")]:
    add_segments(meeting_in(alice, native_meeting_id=native), [(0.0, 1.0, "Bob", line)])
found = selectors.meeting_list(user=alice, filters={"q": 'art "ART budget"'}).meetings
print([m.native_meeting_id for m in found], segment_first_matches(meetings=found, text="art"))
"""


def test_the_default_sqlite_database_searches_words_where_they_start(tmp_path: Path) -> None:
    """`make run` keeps its meetings in SQLite, where the search's word starts are Python
    regexes (PostgreSQL's are its own): the same search must find the same meetings."""
    result = run_on_sqlite(SQLITE_SEARCH, tmp_path)
    assert result.stdout.strip().splitlines()[-1] == "['aaa-aaaa-aaa'] {1: 'The Art budget.'}"
