"""A trigram index for transcript search (`GET /meetings?q=`, the dashboard's Find box).

The search is `icontains` on final segments, which PostgreSQL runs as
`UPPER(text) LIKE UPPER('%…%')`: without an index every segment of every meeting of the user is
read for a word said once (187 ms over 300 meetings of 600 segments, linear in the user's
transcripts). A GIN index of `pg_trgm` trigrams on `UPPER(text)` lets the planner find such
segments first (under 1 ms, `bench/api_latency.py`), while a common word still takes the newest
meetings one by one until the page is full. Built `CONCURRENTLY` (this migration is not atomic)
so a running server keeps writing transcripts meanwhile.

PostgreSQL only, and kept out of the models' state: SQLite (the embedded default, one user's
data) has no trigram index and searches as before. Where the `pg_trgm` extension cannot be
created (a managed database that does not offer it, a role without CREATE on the database) the
migration says so and search stays correct, only slower.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

logger = logging.getLogger(__name__)

INDEX_NAME = "segment_text_trgm"


def create_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            logger.warning("transcript search stays unindexed: no pg_trgm extension (%s)", exc)
            return
        # A build interrupted earlier leaves an INVALID index of this name: replace it.
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX_NAME}")
        cursor.execute(
            f"CREATE INDEX CONCURRENTLY {INDEX_NAME} ON transcripts_segment "
            "USING gin (UPPER(text) gin_trgm_ops) WHERE completed"
        )


def drop_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("transcripts", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
