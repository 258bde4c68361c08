"""Latency of the meetings API in process (Django + PostgreSQL + Redis, no network).

Creates a throwaway test database, fills it, times each request N times and prints the median
and p95 in milliseconds with the number of SQL queries per request. Usage:

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/vexa \\
        REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python bench/api_latency.py \\
        [--segments 2000] [--meetings 500] [--repeat 30] [--search-meetings 300]

The search rows run over another user's `--search-meetings` meetings of 600 final segments each
(20 minutes of talk at a line every 2 s), written from a 2000-word vocabulary, so a rare word is
said in one meeting and a common one in most.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)
from rest_framework.test import APIClient  # noqa: E402


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    assert call().status_code == 200  # also warms caches and the key's last_used_at
    samples = []
    # With DEBUG on every query is logged in a bounded deque; start counting from empty.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        call()
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, len(queries)


def signed_in(email: str) -> tuple[Any, APIClient, Client]:
    """A new user, an API client with their key, and the dashboard signed in with it."""
    from accounts import services as account_services
    from accounts.models import User

    user = User.objects.create_user(email, max_concurrent_bots=0)
    client = APIClient()
    key = account_services.token_issue(user=user, scopes=["bot", "tx"]).plain
    client.credentials(HTTP_X_API_KEY=key)
    page = Client()
    assert page.post("/dashboard/login", {"api_key": key}).status_code == 302
    return user, client, page


MEET = {"platform": "google_meet", "native_meeting_id": "abc-defg-hij"}


def mcp_call(client: APIClient, tool: str, arguments: dict[str, Any]) -> Any:
    """A `tools/call` at `/mcp`, as an assistant makes it (asserted to be no tool error)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    response = client.post(
        "/mcp", {**body, "params": {"name": tool, "arguments": arguments}}, format="json"
    )
    assert not response.json()["result"].get("isError"), response.content
    return response


_renames = itertools.cycle([("Speaker 0", "Dana"), ("Dana", "Speaker 0")])


def rename_back_and_forth(client: APIClient, meeting_id: int) -> Any:
    """Rename a speaker, and back on the next call, so every call renames as many lines."""
    speaker, name = next(_renames)
    response = client.post(
        f"/meetings/{meeting_id}/speakers", {"speaker": speaker, "name": name}, format="json"
    )
    assert response.status_code == 200, response.content
    return response


def meeting_with_lines(
    *, user: Any, platform: str, native_meeting_id: str, lines: Iterable[str]
) -> Any:
    """A meeting whose one session has `lines` as final segments, one every 2 s, four
    speakers taking turns."""
    from meetings import lifecycle
    from meetings.models import Meeting, MeetingSession
    from transcripts.models import Segment

    meeting = Meeting.objects.create(
        user=user, platform=platform, native_meeting_id=native_meeting_id
    )
    lifecycle.record_created(meeting)
    session = MeetingSession.objects.create(meeting=meeting)
    Segment.objects.bulk_create(
        Segment(
            meeting=meeting,
            session_uid=session.session_uid,
            segment_id=f"s{n}",
            start=n * 2.0,
            end=n * 2.0 + 1.8,
            text=text,
            speaker=f"Speaker {n % 4}",
            language="en",
            completed=True,
            absolute_start_time=session.started_at + timedelta(seconds=n * 2.0),
            absolute_end_time=session.started_at + timedelta(seconds=n * 2.0 + 1.8),
        )
        for n, text in enumerate(lines)
    )
    return meeting


def search_corpus(*, user: Any, meetings: int) -> tuple[str, str, str, str]:
    """`meetings` completed meetings of 600 final segments of 12 words each, the words drawn
    from a Zipf-like vocabulary; returns a word said once (in one meeting), two said a few times
    in most meetings, and the commonest (in most lines)."""
    from meetings import lifecycle

    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    # As in speech, the commoner a word the shorter: PostgreSQL's planner guesses how many
    # lines contain a pattern from its length alone.
    vocabulary = sorted(
        {"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(2000)},
        key=lambda word: (len(word), word),
    )
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    rare = "quokkaburger"
    for n in range(meetings):
        lines = (
            " ".join(
                [rare]
                if n == meetings // 2 and index == 300
                else rng.choices(vocabulary, weights, k=12)
            ).capitalize()
            + "."
            for index in range(600)
        )
        meeting = meeting_with_lines(
            user=user, platform="teams", native_meeting_id=f"{9000000000 + n}", lines=lines
        )
        lifecycle.transition(meeting_id=meeting.pk, to="failed", source="bench")
    if connection.vendor == "postgresql":
        # What autovacuum does soon after such writes on a server: the planner's statistics.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return rare, vocabulary[200], vocabulary[201], vocabulary[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--meetings", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--search-meetings", type=int, default=300)
    args = parser.parse_args()

    from meetings import lifecycle
    from meetings.models import Meeting

    setup_test_environment()  # the test client's host, in-memory email
    old_name = connection.settings_dict["NAME"]
    # Its own database, so a benchmark never clobbers the test suite's test_* database.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_api_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(API_RATE_LIMIT_PER_MINUTE=0):
            user, client, page = signed_in("bench@example.com")
            # Search runs over another user's meetings: the rows above keep their counts.
            searcher, search_client, search_page = signed_in("search@example.com")
            for n in range(args.meetings):
                meeting = Meeting.objects.create(
                    user=user, platform="zoom", native_meeting_id=f"{100000000 + n}"
                )
                lifecycle.record_created(meeting)
                lifecycle.transition(meeting_id=meeting.pk, to="failed", source="bench")
            fox = "The quick brown fox jumps over the lazy dog near the river bank."
            meeting = meeting_with_lines(user=user, **MEET, lines=[fox] * args.segments)
            rare, some, some2, common = search_corpus(user=searcher, meetings=args.search_meetings)
            searched = f"{args.search_meetings} meetings of 600 segments"
            rows = [
                (f"GET /meetings ({args.meetings + 1} meetings)", lambda: client.get("/meetings")),
                ("GET /meetings?limit=50", lambda: client.get("/meetings?limit=50")),
                (
                    f"GET /transcripts ({args.segments} segments, JSON)",
                    lambda: client.get("/transcripts/google_meet/abc-defg-hij"),
                ),
                (
                    f"GET /transcripts?format=txt ({args.segments} segments)",
                    lambda: client.get("/transcripts/google_meet/abc-defg-hij?format=txt"),
                ),
                ("GET /bots/status", lambda: client.get("/bots/status")),
                (
                    f"dashboard live fragment ({args.segments} segments), what every open tab "
                    "of a live meeting fetched every 2 s until 2026-12-06",
                    lambda: page.get(f"/dashboard/meetings/{meeting.pk}", HTTP_HX_REQUEST="true"),
                ),
                (
                    f"GET /meetings?q=(said once)&limit=50 ({searched})",
                    lambda: search_client.get(f"/meetings?q={rare}&limit=50"),
                ),
                (
                    f"GET /meetings?q=(a few times a meeting)&limit=50 ({searched})",
                    lambda: search_client.get(f"/meetings?q={some}&limit=50"),
                ),
                (
                    f"GET /meetings?q=(in most lines)&limit=50 ({searched})",
                    lambda: search_client.get(f"/meetings?q={common}&limit=50"),
                ),
                (
                    f"GET /meetings?q=(a word in most lines and one said once)&limit=50 "
                    f"({searched})",
                    lambda: search_client.get(f"/meetings?q={common}+{rare}&limit=50"),
                ),
                (
                    f"GET /meetings?q=(two words, each a few times a meeting)&limit=50 "
                    f"({searched})",
                    lambda: search_client.get(f"/meetings?q={some}+{some2}&limit=50"),
                ),
                (
                    f"dashboard Find, said once ({searched})",
                    lambda: search_page.get(f"/dashboard/?q={rare}"),
                ),
                (
                    f"dashboard Find, in most lines ({searched})",
                    lambda: search_page.get(f"/dashboard/?q={common}"),
                ),
                (
                    f"MCP get_transcript ({args.segments} segments: its first part, 60,000 "
                    "characters)",
                    lambda: mcp_call(client, "get_transcript", MEET),
                ),
                (
                    f"POST /meetings/{{id}}/speakers (one of four speakers renamed, "
                    f"{args.segments // 4} of {args.segments} segments)",
                    lambda: rename_back_and_forth(client, meeting.pk),
                ),
                (
                    f"MCP search_transcripts, said once ({searched})",
                    lambda: mcp_call(search_client, "search_transcripts", {"query": rare}),
                ),
                (
                    f"MCP search (ChatGPT's), a question with a word nobody said: every word, "
                    f"then each word alone ({searched})",
                    lambda: mcp_call(
                        search_client,
                        "search",
                        {"query": f"What did we say about {some}, {rare} and zebras?"},
                    ),
                ),
                (
                    f"MCP fetch (ChatGPT's), the whole transcript ({args.segments} segments)",
                    lambda: mcp_call(client, "fetch", {"id": f"meeting://{meeting.pk}"}),
                ),
            ]
            print(f"| request | median ms | p95 ms | SQL queries |  (repeat={args.repeat})")
            print("|---|---|---|---|")
            for label, call in rows:
                median, p95, queries = timed(call, args.repeat)
                print(f"| {label} | {median:.1f} | {p95:.1f} | {queries} |")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
