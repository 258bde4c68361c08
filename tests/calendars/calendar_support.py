"""A real calendar server on loopback (the user's calendar provider, outside the product) and
iCalendar text built around the current time. A pytest plugin (tests/conftest.py): the
calendar and dashboard tests share its fixtures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vevent(
    uid: str,
    start: datetime,
    *,
    minutes: int = 30,
    title: str = "Sync",
    link: str | None = "https://meet.google.com/abc-defg-hij",
    extra: str = "",
) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp(start)}",
        f"DTSTART:{stamp(start)}",
        f"DTEND:{stamp(start + timedelta(minutes=minutes))}",
        f"SUMMARY:{title}",
    ]
    if link:
        lines.append(f"DESCRIPTION:Join: {link}\\nOr dial in.")
    if extra:
        lines.extend(extra.strip().splitlines())
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


def vcalendar(*events: str) -> bytes:
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//calendar//EN", *events]
    return ("\r\n".join([*body, "END:VCALENDAR"]) + "\r\n").encode()


@dataclass
class CalendarServer:
    """Serves `body` at /cal.ics with `status` (a redirect goes to /cal.ics); counts reads."""

    body: bytes = field(default_factory=vcalendar)
    status: int = 200
    reads: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cal.ics"


@pytest.fixture
def calendar_server() -> Iterator[CalendarServer]:
    state = CalendarServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.reads += 1
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/cal.ics")
                self.end_headers()
                return
            self.send_response(state.status)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # The loopback server is the test's stand-in for a calendar provider on the internet.
    with override_settings(CALENDAR_ALLOW_PRIVATE_URLS=True):
        yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def soon() -> datetime:
    """A round minute a few hours ahead, so events stay in the horizon for the whole test."""
    return (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
