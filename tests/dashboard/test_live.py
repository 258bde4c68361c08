"""The live meeting page: its event feed (`/dashboard/meetings/<id>/events`) against a real
Daphne, and `static/vexa/live.js` applying it in real Chromium."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client, override_settings
from django.utils import timezone
from playwright.async_api import Page

from accounts.models import User
from bots import services as bot_services
from bots.runtime.browser import BrowserHost
from meetings import lifecycle
from meetings.models import Meeting, MeetingSession, MeetingStatus
from tests import processes
from tests.bots.conftest import wait_for
from tests.meetings.builders import add_segments, meeting_in, recorded
from tests.transcripts.realtime_support import DEADLINE_S, SseEvent, sse_events
from transcripts import realtime
from transcripts.models import Segment
from transcripts.serializers import segment_wire

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def recordings_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recordings")


@pytest.fixture(scope="module")
def daphne(django_db_setup: Any, django_db_blocker: Any, recordings_dir: Path) -> Iterator[str]:
    env = {"RECORDINGS_DIR": str(recordings_dir)}
    with django_db_blocker.unblock(), processes.daphne_server(env) as base:
        yield base


@pytest.fixture(scope="module")
def host() -> Iterator[BrowserHost]:
    browser_host = BrowserHost()
    yield browser_host
    browser_host.shutdown()


def signed_in_http(base: str, key: str) -> httpx.Client:
    """A browser-like client signed in to the dashboard through its form (CSRF and all)."""
    client = httpx.Client(base_url=base, timeout=DEADLINE_S)
    form = client.get("/dashboard/login").text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert csrf is not None
    response = client.post(
        "/dashboard/login", data={"api_key": key, "csrfmiddlewaretoken": csrf.group(1)}
    )
    assert response.status_code == 302
    return client


def segment(
    session: MeetingSession, segment_id: str, at_s: float, speaker: str, text: str
) -> Segment:
    """A draft `at_s` into the session, as the engine stores one before publishing it."""
    at = session.started_at + timedelta(seconds=at_s)
    return Segment.objects.create(
        meeting_id=session.meeting_id, session_uid=session.session_uid, segment_id=segment_id,
        start=at_s, end=at_s + 1, text=text, speaker=speaker, completed=False,
        absolute_start_time=at, absolute_end_time=at + timedelta(seconds=1),
    )  # fmt: skip


def publish(meeting: Meeting, segment: Segment) -> None:
    kind = "finalized" if segment.completed else "mutable"
    realtime.publish_segments(meeting_id=meeting.pk, kind=kind, segments=[segment_wire(segment)])


def first_event(client: httpx.Client, url: str, kinds: tuple[str, ...]) -> SseEvent:
    """The first event of `kinds` the feed at `url` sends (keep-alives and others skipped)."""

    async def read() -> SseEvent:
        cookies = dict(client.cookies)
        async with (
            httpx.AsyncClient(base_url=str(client.base_url), cookies=cookies) as http,
            http.stream("GET", url, timeout=DEADLINE_S) as response,
        ):
            assert response.status_code == 200
            async for item in sse_events(response):
                if isinstance(item, SseEvent) and item.event in kinds:
                    return item
        raise AssertionError("the feed ended")

    return asyncio.run(asyncio.wait_for(read(), DEADLINE_S))


def test_the_feed_needs_a_session_and_hides_other_users_meetings(
    alice: User, bob: User, alice_key: str
) -> None:
    mine = meeting_in(alice, "active")
    theirs = meeting_in(bob, "active", native_meeting_id="xyz-abcd-efg")
    client = Client()
    assert client.get(f"/dashboard/meetings/{mine.pk}/events").status_code == 401
    assert client.post("/dashboard/login", {"api_key": alice_key}).status_code == 302
    assert client.get(f"/dashboard/meetings/{theirs.pk}/events").status_code == 404
    assert client.get(f"/dashboard/meetings/{mine.pk}/events?last_event_id=x").status_code == 400


def test_what_is_published_while_the_page_loads_reaches_its_feed(
    daphne: str, alice: User, alice_key: str
) -> None:
    """The page names the log's newest event at render time; the feed resumes after it, so a
    segment published between the render and the feed's connection is not lost."""
    meeting = meeting_in(alice, "active")
    session = add_segments(meeting, [(0.0, 1.0, "Alice", "Before the page.")])
    client = signed_in_http(daphne, alice_key)
    page = client.get(f"/dashboard/meetings/{meeting.pk}").text
    after = re.search(r'data-after="([^"]+)"', page)
    assert after is not None
    assert "Before the page." in page
    publish(meeting, segment(session, "late", 1.0, "Bob", "While it loads."))

    url = f"/dashboard/meetings/{meeting.pk}/events?last_event_id={after.group(1)}"
    event = first_event(client, url, ("transcript.mutable",))

    assert json.loads(event.data)["payload"]["segments"][0]["text"] == "While it loads."


def test_the_feed_carries_only_this_calls_events(daphne: str, alice: User, alice_key: str) -> None:
    """One native meeting id holds every call made under it; the page is one call's."""
    earlier = meeting_in(alice, "completed")
    current = meeting_in(alice, "active")
    client = signed_in_http(daphne, alice_key)
    after = realtime.event_log_last_id(
        realtime.event_log_key(realtime.native_key(alice.pk, "google_meet", "abc-defg-hij"))
    )
    realtime.publish_segments(
        meeting_id=earlier.pk, kind="finalized", segments=[{"segment_id": "old", "text": "Old."}]
    )
    realtime.publish_segments(
        meeting_id=current.pk, kind="finalized", segments=[{"segment_id": "new", "text": "New."}]
    )

    url = f"/dashboard/meetings/{current.pk}/events?last_event_id={after}"
    event = first_event(client, url, ("transcript.finalized",))

    assert json.loads(event.data)["meeting"]["id"] == current.pk


async def sign_in(host: BrowserHost, base: str, key: str) -> Page:
    context = await host.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/dashboard/login")
    await page.fill("input[name=api_key]", key)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r".*/dashboard/$"))
    return page


def test_the_live_page_shows_drafts_then_finals_in_place_as_they_are_published(
    daphne: str, host: BrowserHost, alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "active")
    session = add_segments(meeting, [(0.0, 1.0, "Alice", "Good morning.")])
    page = host.run(sign_in(host, daphne, alice_key))
    fetches: list[str] = []  # the page's own requests for its fragment
    feeds: list[str] = []  # and for its feed
    fragment = f"{daphne}/dashboard/meetings/{meeting.pk}"

    def seen(url: str) -> None:
        if url == fragment:
            fetches.append(url)
        elif url.startswith(f"{fragment}/events"):
            feeds.append(url)

    async def listen() -> None:  # on the browser's loop, where the page's events arrive
        page.on("request", lambda request: seen(request.url))

    host.run(listen())
    host.run(page.goto(fragment))
    fetches.clear()

    def lines() -> list[tuple[str, str]]:
        items = host.run(page.eval_on_selector_all(
            "#live ol.transcript li", "items => items.map(i => [i.className, i.innerText])"
        ))  # fmt: skip
        return [(cls, text) for cls, text in items]

    def wait_lines(expected: list[tuple[str, str]], what: str) -> None:
        wait_for(lambda: [(c, t.split(" ", 1)[1]) for c, t in lines()] == expected,
                 timeout_s=DEADLINE_S, what=what)  # fmt: skip

    wait_lines([("", "Alice: Good morning.")], "the rendered transcript")
    # Published once the page is rendered, before or after its feed connects: either way the
    # feed has it (it resumes after the page's render).
    draft = segment(session, "s-2", 2.0, "Bob", "How are")
    publish(meeting, draft)
    wait_lines([("", "Alice: Good morning."), ("draft", "Bob: How are")], "the draft")
    # The rename form offers the new speaker as well as those the page was rendered with.
    offered = host.run(page.eval_on_selector_all(
        "#speakers-seen option", "options => options.map(o => o.value)"
    ))  # fmt: skip
    assert offered == ["Alice", "Bob"]

    draft.text, draft.completed, draft.updated_at = "How are you?", True, timezone.now()
    draft.save()
    publish(meeting, draft)
    wait_lines([("", "Alice: Good morning."), ("", "Bob: How are you?")], "its final, in place")
    # A message posted in the meeting's chat joins the chat's list, shown from then on.
    assert host.run(page.locator("#meeting-chat").is_hidden())
    bot_services.bot_chat_read(meeting_id=meeting.pk, messages=[("Carol", "Slides: <link>")])
    said = wait_for(
        lambda: host.run(page.locator("#meeting-chat li").all_text_contents()),
        timeout_s=DEADLINE_S,
        what="the chat message",
    )
    assert [re.sub(r"\d\d:\d\d:\d\d", "T", text) for text in said] == ["Carol T Slides: <link>"]
    assert host.run(page.locator("#meeting-chat summary").inner_text()) == "The meeting's chat (1)"
    # People coming and going join the attendance list, and their stay ends there.
    assert host.run(page.locator("#attendance").is_hidden())
    dana = {"name": "Dana", "joined_at": "2026-12-08T10:00:05Z", "left_at": None}
    bot_services.bot_attendance_record(meeting_id=meeting.pk, attendance=[dana])
    stays = page.locator("#attendance li")
    wait_for(
        lambda: host.run(stays.all_text_contents()) == ["Dana 10:00:05\u2013now"],
        timeout_s=DEADLINE_S,
        what="Dana's arrival",
    )
    gone = {**dana, "left_at": "2026-12-08T10:07:00Z"}
    bot_services.bot_attendance_record(meeting_id=meeting.pk, attendance=[gone])
    wait_for(
        lambda: host.run(stays.all_text_contents()) == ["Dana 10:00:05\u201310:07:00"],
        timeout_s=DEADLINE_S,
        what="Dana's leaving",
    )
    assert host.run(page.locator("#attendance summary").inner_text()) == "Attendance (1)"
    assert fetches == []  # segments and chat messages are applied, not fetched

    vanished = segment(session, "s-3", 4.0, "Bob", "Uh")
    publish(meeting, vanished)
    wait_for(lambda: len(lines()) == 3, timeout_s=DEADLINE_S, what="a third line")
    cls, text = lines()[2]
    assert (cls, text.strip()) == ("draft cont", "Uh")  # Bob again: it continues his line
    vanished.text, vanished.updated_at = "", timezone.now()
    publish(meeting, vanished)  # a draft that came to nothing is published empty
    wait_for(lambda: len(lines()) == 2, timeout_s=DEADLINE_S, what="the empty draft removed")

    # A hidden tab gives its connection back (browsers allow six per server) and resumes after
    # the last event it had when shown again.
    hide = (
        "hidden => { Object.defineProperty(document, 'hidden', {value: hidden, configurable: "
        "true}); document.dispatchEvent(new Event('visibilitychange')); }"
    )
    host.run(page.evaluate(hide, True))
    publish(meeting, segment(session, "s-5", 6.0, "Alice", "While it was hidden."))
    host.run(page.evaluate(hide, False))
    wait_lines(
        [
            ("", "Alice: Good morning."),
            ("", "Bob: How are you?"),
            ("draft", "Alice: While it was hidden."),
        ],
        "what was published while the tab was hidden",
    )
    assert len(feeds) == 2
    assert feeds[1] != feeds[0]  # resumed after its last event, not from the page's render

    lifecycle.transition(
        meeting_id=meeting.pk, to=MeetingStatus.COMPLETED, source="bot",
        completion_reason="stopped",
    )  # fmt: skip
    wait_for(
        lambda: "completed" in host.run(page.inner_text("#live .status")),
        timeout_s=DEADLINE_S,
        what="the new status, fetched when it changed",
    )
    assert fetches  # the status change fetched the fragment
    assert host.run(page.locator("#live form button", has_text="Stop bot").count()) == 0
    host.run(page.context.close())


def test_the_meetings_list_follows_a_live_bots_status(
    daphne: str, host: BrowserHost, alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "joining")
    page = host.run(sign_in(host, daphne, alice_key))
    status = f"#meeting-rows a[href='/dashboard/meetings/{meeting.pk}'] >> xpath=../.. >> .status"

    def shown() -> str:
        return str(host.run(page.inner_text(status)))

    assert shown() == "joining"
    lifecycle.transition(meeting_id=meeting.pk, to=MeetingStatus.ACTIVE, source="bot_callback")
    wait_for(lambda: shown() == "active", timeout_s=DEADLINE_S, what="the row to show active")


def test_a_transcript_lines_time_plays_the_recording_from_where_the_line_starts(
    daphne: str, host: BrowserHost, alice: User, alice_key: str, recordings_dir: Path
) -> None:
    with override_settings(RECORDINGS_DIR=recordings_dir):
        recording = recorded(alice, seconds=6.0)
    session = recording.session
    assert session is not None
    # Absolute times carry the capture clock's drift (1.5 s here, exaggerated); the recording
    # keeps the capture's clock, so the player goes by `start`.
    drift = timedelta(seconds=1.5)
    for index, (start, speaker, text) in enumerate(
        [(0.5, "Alice", "First line."), (4.0, "Bob", "Second line.")]
    ):
        at = session.started_at + timedelta(seconds=start) + drift
        Segment.objects.create(
            meeting_id=session.meeting_id, session_uid=session.session_uid,
            segment_id=f"{session.session_uid}:{index}", start=start, end=start + 1.0, text=text,
            speaker=speaker, completed=True, absolute_start_time=at,
            absolute_end_time=at + timedelta(seconds=1),
        )  # fmt: skip
    page = host.run(sign_in(host, daphne, alice_key))
    host.run(page.goto(f"{daphne}/dashboard/meetings/{recording.meeting_id}"))

    host.run(page.locator("button.seek", has_text=":").nth(1).click())

    def position() -> float:
        return float(host.run(page.evaluate("document.querySelector('audio').currentTime")))

    wait_for(lambda: position() >= 4.0, timeout_s=10, what="the player at the second line")
    assert position() < 5.5
    host.run(page.context.close())
