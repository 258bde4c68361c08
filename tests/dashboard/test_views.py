from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from standardwebhooks import Webhook

from accounts import services as account_services
from accounts.models import ApiToken, User
from bots import services as bot_services
from calendars.models import CalendarEvent, CalendarFeed
from meetings import lifecycle, retention
from meetings import services as meeting_services
from meetings.models import BotChatMessage, Meeting, MeetingStatus
from tests import processes
from tests.calendars.calendar_support import CalendarServer, vcalendar, vevent
from tests.conftest import api_client
from tests.meetings.builders import add_segments, meeting_in, recorded
from tests.webhooks.receiver import Receiver
from transcripts import services as transcript_services
from transcripts.models import Segment, ShareLink
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def make_meeting(user: User, native_id: str = "abc-defg-hij") -> Meeting:
    meeting = Meeting.objects.create(
        user=user, platform="google_meet", native_meeting_id=native_id, data={"name": "Standup"}
    )
    lifecycle.record_created(meeting)
    return meeting


def signed_in(key: str) -> Client:
    client = Client()
    response = client.post("/dashboard/login", {"api_key": key})
    assert response.status_code == 302
    return client


def test_signing_in_needs_a_valid_key() -> None:
    response = Client().post("/dashboard/login", {"api_key": "vex_nope"})
    assert response.status_code == 401
    assert b"Invalid API key" in response.content


def test_pages_redirect_to_sign_in() -> None:
    response = Client().get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login")


def test_the_login_form_is_csrf_protected(alice_key: str) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/dashboard/login", {"api_key": alice_key}).status_code == 403


def test_it_lists_only_the_users_own_meetings(alice: User, bob: User, alice_key: str) -> None:
    make_meeting(alice, "aaa-bbbb-ccc")
    make_meeting(bob, "xxx-yyyy-zzz")
    page = signed_in(alice_key).get("/dashboard/")
    assert b"aaa-bbbb-ccc" not in page.content  # shown by name
    assert b"Standup" in page.content
    assert page.content.count(b"status-requested") == 1


def test_the_list_pages_back_through_older_meetings_keeping_its_filters(
    alice: User, bob: User, alice_key: str, django_assert_num_queries: Any
) -> None:
    meetings = [make_meeting(alice, f"pag-{n:04d}-mtg") for n in range(52)]
    make_meeting(bob, "bob-bbbb-bbb")
    client = signed_in(alice_key)
    client.get("/dashboard/")

    first = client.get("/dashboard/?status=requested").content.decode()
    with django_assert_num_queries(4):  # session, user, key, the page of meetings
        older = client.get("/dashboard/?status=requested&page=2", HTTP_HX_REQUEST="true")
    rows = older.content.decode()
    garbled = client.get("/dashboard/?page=abc").content.decode()
    beyond = client.get("/dashboard/?page=99999999999999999999999", HTTP_HX_REQUEST="true")

    def listed(html: str) -> list[int]:
        return [int(pk) for pk in re.findall(r'<a href="/dashboard/meetings/(\d+)"', html)]

    newest_first = [m.pk for m in reversed(meetings)]
    assert listed(first) == newest_first[:50]
    assert 'href="/dashboard/?status=requested&amp;page=2"' in first
    assert "Newer" not in first
    assert listed(rows) == newest_first[50:]
    assert 'href="/dashboard/?status=requested&amp;page=1"' in rows
    assert "Older" not in rows
    # The rows fetch themselves again (a bot is on its way) on the same page.
    assert 'hx-get="/dashboard/?status=requested&amp;page=2"' in rows
    assert listed(garbled) == newest_first[:50]
    assert beyond.status_code == 200
    assert "No older meetings." in beyond.content.decode()


def test_the_list_filters_by_platform(alice: User, alice_key: str) -> None:
    meet = make_meeting(alice, "abc-defg-hij")
    zoom = meeting_in(alice, "completed", platform="zoom", native_meeting_id="85173157171")
    client = signed_in(alice_key)

    zooms = client.get("/dashboard/?platform=zoom").content.decode()
    unknown = client.get("/dashboard/?platform=skype", HTTP_HX_REQUEST="true").content.decode()

    assert f"/dashboard/meetings/{zoom.pk}" in zooms
    assert f"/dashboard/meetings/{meet.pk}" not in zooms
    assert '<option value="zoom" selected>' in zooms
    # Not a platform: no filter, rather than an empty list.
    assert f"/dashboard/meetings/{meet.pk}" in unknown
    assert f"/dashboard/meetings/{zoom.pk}" in unknown


def test_the_status_filter_returns_a_fragment_for_htmx(alice: User, alice_key: str) -> None:
    make_meeting(alice)
    client = signed_in(alice_key)
    fragment = client.get("/dashboard/?status=completed", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content
    assert b"No meetings match." in fragment.content


def test_a_search_shows_the_line_with_every_word_around_its_first_hit(
    alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "completed")
    opening = "We went through the numbers for the third quarter of the year, slowly, " * 2
    add_segments(
        meeting,
        [
            (0.0, 2.0, "Alice", "The budget first."),
            (2.0, 9.0, "Bob", opening + "and the Budget review came last. " + "More. " * 40),
        ],
    )
    client = signed_in(alice_key)

    one = client.get("/dashboard/?q=budget", HTTP_HX_REQUEST="true").content.decode()
    both = client.get("/dashboard/?q=review+budget", HTTP_HX_REQUEST="true").content.decode()
    too_many = client.get("/dashboard/?q=a+b+c+d+e+f+g+h+i").content.decode()

    assert "The <mark>budget</mark> first." in one
    # The line with both words, cut in front and behind at spaces, its hits within reach.
    line = re.search(r'class="muted said">&ldquo;(.*?)&rdquo;', both)
    assert line is not None
    assert line.group(1).startswith(
        "…quarter of the year, slowly, and the <mark>Budget</mark> <mark>review</mark> came"
    )
    assert line.group(1).endswith("More.…")
    assert len(re.sub("<[^>]+>", "", line.group(1))) <= 162
    # Too many words: said in words, the list unsearched, the box keeps them.
    assert "Search for at most 8 words or quoted phrases." in too_many
    assert 'value="a b c d e f g h i"' in too_many
    assert f"/dashboard/meetings/{meeting.pk}" in too_many


def test_the_list_finds_meetings_by_words_said_and_shows_the_line_that_said_them(
    alice: User, bob: User, alice_key: str, django_assert_num_queries: Any
) -> None:
    said = meeting_in(alice, "completed", native_meeting_id="sai-dbud-get")
    add_segments(
        said,
        [
            (0.0, 2.0, "Alice", "Good morning."),
            (2.0, 4.0, "Bob", "The quarterly <b>BUDGET</b> review is on Monday."),
            (5.0, 6.0, "Bob", "Budget again."),
        ],
    )
    other = meeting_in(alice, "completed", native_meeting_id="oth-erme-eet")
    add_segments(other, [(0.0, 1.0, "Alice", "Nothing to see.")])
    theirs = meeting_in(bob, "completed", native_meeting_id="the-irsb-udg")
    add_segments(theirs, [(0.0, 1.0, "Bob", "Our budget.")])
    client = signed_in(alice_key)
    client.get("/dashboard/")

    # Session, user, key, the page of meetings, the lines: as many for any number found.
    with django_assert_num_queries(5):
        rows = client.get("/dashboard/?q=budget", HTTP_HX_REQUEST="true").content.decode()
    page = client.get("/dashboard/?q=budget&status=completed").content.decode()

    assert f"/dashboard/meetings/{said.pk}" in rows
    assert f"/dashboard/meetings/{other.pk}" not in rows
    assert f"/dashboard/meetings/{theirs.pk}" not in rows
    # The first line that said it, escaped, the word marked.
    assert "The quarterly &lt;b&gt;<mark>BUDGET</mark>&lt;/b&gt; review is on Monday." in rows
    assert "Budget again" not in rows
    assert 'name="q" value="budget"' in page
    assert (
        client.get("/dashboard/?q=nowhere", HTTP_HX_REQUEST="true")
        .content.decode()
        .count("No meetings match.")
        == 1
    )


def test_the_list_fetches_its_rows_again_only_while_a_meeting_is_live(
    alice: User, alice_key: str
) -> None:
    client = signed_in(alice_key)
    live = meeting_in(alice, "joining")
    page = client.get("/dashboard/?status=joining").content.decode()
    poll = re.search(r'<tr hidden hx-get="([^"]+)" hx-trigger="load delay:(\d+)s"', page)
    assert poll is not None, page
    assert poll.group(1) == "/dashboard/?status=joining"  # the filter stays on

    lifecycle.transition(meeting_id=live.pk, to="failed", source="bot_callback")
    rows = client.get("/dashboard/", HTTP_HX_REQUEST="true").content.decode()
    assert "status-failed" in rows
    assert "hx-trigger" not in rows

    # Bots scheduled for later (a calendar's): the rows fetch themselves when one is due (at
    # most 5 minutes ahead), not every 3 s until then.
    far = bot_services.bot_create(
        user=alice, meeting_url="https://zoom.us/j/85012345679",
        join_at=timezone.now() + timedelta(days=2),
    )  # fmt: skip
    rows = client.get("/dashboard/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="load delay:300s"' in rows
    join_at = timezone.now() + timedelta(seconds=100)
    bot_services.bot_create(
        user=alice, meeting_url="https://zoom.us/j/85012345678", join_at=join_at
    )
    rows = client.get("/dashboard/", HTTP_HX_REQUEST="true").content.decode()
    delay = re.search(r'hx-trigger="load delay:(\d+)s"', rows)
    assert delay is not None
    assert delay.group(1) in ("100", "101")
    assert f"joins {join_at:%b} {join_at.day}, {join_at:%H:%M}" in rows
    page = client.get(f"/dashboard/meetings/{far.pk}").content.decode()
    assert f"The bot is scheduled to join at {far.join_at:%Y-%m-%d %H:%M} UTC." in page


def test_another_users_meeting_is_a_404(bob: User, alice_key: str, tmp_path: Path) -> None:
    theirs = make_meeting(bob)
    client = signed_in(alice_key)
    assert client.get(f"/dashboard/meetings/{theirs.pk}").status_code == 404
    assert client.post(f"/dashboard/meetings/{theirs.pk}/stop").status_code == 404
    assert client.post(f"/dashboard/meetings/{theirs.pk}/share").status_code == 404
    assert client.get(f"/dashboard/meetings/{theirs.pk}/transcript.txt").status_code == 404
    assert client.get(f"/dashboard/meetings/{theirs.pk}/transcript.srt").status_code == 404
    details = {"name": "Mine now", "notes": ""}
    assert client.post(f"/dashboard/meetings/{theirs.pk}/details", details).status_code == 404
    rename = {"speaker": "Alice", "name": "Eve"}
    assert client.post(f"/dashboard/meetings/{theirs.pk}/speakers", rename).status_code == 404
    assert client.post(f"/dashboard/meetings/{theirs.pk}/transcribe").status_code == 404
    assert client.post(f"/dashboard/meetings/{theirs.pk}/delete").status_code == 404
    theirs.refresh_from_db()
    assert theirs.data["name"] == "Standup"
    assert not theirs.data.get("redacted")
    with override_settings(RECORDINGS_DIR=tmp_path):
        theirs_recording = recorded(bob, native="rec-ordi-ngs")
        assert client.get(f"/dashboard/recordings/{theirs_recording.pk}/audio").status_code == 404
    assert Meeting.objects.get(pk=theirs.pk).status == MeetingStatus.REQUESTED


def test_sending_a_bot_from_the_form_creates_the_meeting(
    alice: User, alice_key: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client = signed_in(alice_key)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/dashboard/bots",
            {
                "meeting_url": "https://meet.google.com/abc-defg-hij",
                "chat_on_join": "This call is transcribed.",
            },
        )
    meeting = Meeting.objects.get(user=alice)
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/meetings/{meeting.pk}"
    assert meeting.native_meeting_id == "abc-defg-hij"
    assert meeting.bot_config["chat_on_join"] == "This call is transcribed."
    assert callbacks  # the bot is enqueued after commit


def test_a_bot_sent_for_later_is_scheduled_and_not_queued(
    alice: User, alice_key: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client = signed_in(alice_key)
    later = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/dashboard/bots",
            {
                "meeting_url": "https://meet.google.com/abc-defg-hij",
                "join_at": f"{later:%Y-%m-%dT%H:%M}",
            },
        )
    assert response.status_code == 302
    meeting = Meeting.objects.get(user=alice)
    assert meeting.join_at == later  # read as UTC, as the form says
    assert meeting.pk not in processes.queued_bots()  # beat starts it when it is due
    page = client.get(response["Location"]).content.decode()
    assert f"The bot is scheduled to join at {later:%Y-%m-%d %H:%M} UTC." in page
    refused = client.post(
        "/dashboard/bots",
        {"meeting_url": "https://meet.google.com/xyz-abcd-efg", "join_at": "soon"},
    )
    assert refused.status_code == 422
    assert "join at: Enter a valid date/time." in refused.content.decode()


def test_a_bad_meeting_link_is_shown_as_an_error(alice_key: str) -> None:
    response = signed_in(alice_key).post(
        "/dashboard/bots", {"meeting_url": "https://example.com/x"}
    )
    assert response.status_code in (400, 422)
    assert b'class="error"' in response.content


def test_a_language_the_model_cannot_transcribe_is_said_in_words(alice_key: str) -> None:
    response = signed_in(alice_key).post(
        "/dashboard/bots", {"meeting_url": "https://meet.google.com/abc-defg-hij", "language": "es"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "(the bundled tiny.en) is English-only, so it cannot transcribe &#x27;es&#x27;" in page
    assert "&#x27;loc&#x27;" not in page  # the message, not the API's error structure
    assert not Meeting.objects.exists()


def test_stop_ends_a_bot_that_has_not_started(alice: User, alice_key: str) -> None:
    meeting = make_meeting(alice)
    signed_in(alice_key).post(f"/dashboard/meetings/{meeting.pk}/stop")
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.COMPLETED
    assert meeting.data["completion_reason"] == "stopped_before_admission"


def test_share_creates_a_public_link(alice: User, alice_key: str) -> None:
    meeting = make_meeting(alice)
    response = signed_in(alice_key).post(f"/dashboard/meetings/{meeting.pk}/share")
    share = ShareLink.objects.get(meeting=meeting)
    assert share.share_id.encode() in response.content


def test_revoking_the_key_signs_the_session_out(alice: User) -> None:
    issued = account_services.token_issue(user=alice, scopes=["tx"])
    client = signed_in(issued.plain)
    assert client.get("/dashboard/").status_code == 200
    account_services.token_revoke(token_id=issued.token.pk)
    assert client.get("/dashboard/").status_code == 302


def test_a_finished_meetings_page_shows_the_transcript_as_sentences(
    alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "completed")
    add_segments(meeting, [(0.0, 0.4, "Alice", "Good"), (0.5, 1.0, "Alice", "morning.")])
    page = signed_in(alice_key).get(f"/dashboard/meetings/{meeting.pk}")
    assert b"<strong>Alice</strong>: Good morning." in page.content
    assert b"live.js" not in page.content  # nothing left to follow


def test_a_meeting_opened_from_a_search_marks_its_words_and_leads_to_the_first_line(
    alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "completed")
    add_segments(
        meeting,
        [
            (0.0, 1.0, "Alice", "Good morning, everyone."),
            (1.5, 3.0, "Bob", "The <b>budget</b> first."),
            (3.5, 5.0, "Alice", "Start with the budgets' review."),
        ],
    )
    client = signed_in(alice_key)

    rows = client.get("/dashboard/?q=budget+review", HTTP_HX_REQUEST="true").content.decode()
    page = client.get(f"/dashboard/meetings/{meeting.pk}?q=budget+review").content.decode()
    plain = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    nowhere = client.get(f"/dashboard/meetings/{meeting.pk}?q=nobody").content.decode()

    # The list's row leads to the meeting's first line with the search's words.
    assert f'href="/dashboard/meetings/{meeting.pk}?q=budget%20review#found"' in rows
    lines = re.findall(r"<li( id=\"found\")?>.*?</strong>: (.*?)</li>", page)
    assert lines == [
        ("", "Good morning, everyone."),
        (' id="found"', "The &lt;b&gt;<mark>budget</mark>&lt;/b&gt; first."),
        ("", "Start with the <mark>budget</mark>s&#x27; <mark>review</mark>."),
    ]
    assert "2 lines with &ldquo;budget review&rdquo;" in page
    assert "<mark>" not in plain
    assert 'id="found"' not in plain
    assert "No line has &ldquo;nobody&rdquo;" in nowhere


def test_a_live_meeting_opened_from_a_search_marks_its_words_in_its_segments(
    alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "active")
    add_segments(meeting, [(0.0, 1.0, "Alice", "Hello."), (1.5, 3.0, "Bob", "The budget.")])

    page = signed_in(alice_key).get(f"/dashboard/meetings/{meeting.pk}?q=budget").content.decode()

    # The segment's text, updated in place by the page's feed, carries the marks and the anchor.
    assert '<span class="text" id="found">The <mark>budget</mark>.</span>' in page
    assert page.count('id="found"') == 1
    assert "1 line with &ldquo;budget&rdquo;" in page


def test_a_live_meetings_page_shows_each_segment_by_id_and_follows_the_meeting(
    alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "active")
    add_segments(meeting, [(0.0, 0.4, "Alice", "Good"), (0.5, 1.0, "Alice", "morning.")])
    add_segments(meeting, [(2.0, 2.5, "Bob", "Hi")], completed=False)
    page = signed_in(alice_key).get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    lines = re.findall(r'<li id="seg-([^"]+)"[^>]*?( class="draft")?>', page)
    assert lines == [
        (s.segment_id, ' class="draft"' if not s.completed else "")
        for s in Segment.objects.filter(meeting=meeting).order_by("absolute_start_time")
    ]
    # The page's feed, resumed after the event log's newest entry at render time.
    assert f'data-events="/dashboard/meetings/{meeting.pk}/events"' in page
    assert re.search(r'data-after="\d+-\d+"', page)


def test_a_failed_meeting_says_why_the_bot_failed(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "active")
    lifecycle.transition(
        meeting_id=meeting.pk,
        to=MeetingStatus.FAILED,
        source="bot",
        reason="bot_error",
        failure_stage="active",
        error_details={"message": "in the call but could not join its audio <for 30 s>"},
    )

    client = signed_in(alice_key)
    page = client.get(f"/dashboard/meetings/{meeting.pk}")
    listed = client.get("/dashboard/")

    assert page.status_code == 200
    assert b"The bot failed at active: in the call but could not join its audio" in page.content
    assert b"&lt;for 30 s&gt;" in page.content  # the page's text, escaped
    # The list shows the reason on the status, without opening the meeting.
    assert b'title="in the call but could not join its audio &lt;for 30 s&gt;"' in listed.content


def test_a_meeting_whose_bot_rejoined_says_when_and_why(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "active")
    bot_services.bot_rejoin_record(meeting_id=meeting.pk, cause="the meeting page crashed")
    bot_services.bot_rejoin_resumed(meeting_id=meeting.pk)
    first = Meeting.objects.get(pk=meeting.pk).data["bot_rejoins"][0]
    bot_services.bot_rejoin_resumed(meeting_id=meeting.pk)  # a second call keeps the first time
    bot_services.bot_rejoin_record(meeting_id=meeting.pk, cause="the page <hung>")
    data = Meeting.objects.get(pk=meeting.pk).data
    assert data["bot_rejoins"][0] == first
    assert first["resumed_at"] >= first["timestamp"]
    assert "resumed_at" not in data["bot_rejoins"][1]
    # Known times, for the page's wording.
    data["bot_rejoins"] = [
        {
            "timestamp": "2026-12-07T10:00:00Z",
            "cause": "the meeting page crashed",
            "resumed_at": "2026-12-07T10:00:01.800000Z",
        },
        {"timestamp": "2026-12-07T10:05:00Z", "cause": "the page <hung>"},
    ]
    Meeting.objects.filter(pk=meeting.pk).update(data=data)

    page = signed_in(alice_key).get(f"/dashboard/meetings/{meeting.pk}").content.decode()

    assert "joined the call again 2 times" in page
    assert (
        "10:00:00 (the meeting page crashed), back 1.8 s later; "
        "10:05:00 (the page &lt;hung&gt;), not back in the call."
    ) in page


def test_a_meeting_page_lists_who_attended_and_when(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "active")
    bot_services.bot_attendance_record(
        meeting_id=meeting.pk,
        attendance=[
            {"name": "Bob <b>", "joined_at": "2026-12-06T12:00:05Z", "left_at": None},
            {
                "name": "Chen",
                "joined_at": "2026-12-06T12:00:07Z",
                "left_at": "2026-12-06T12:09:30Z",
            },
            {"name": "not the bot's shape"},
        ],
    )
    add_segments(meeting, [(0.0, 1.0, "Chen", "Hello.")])
    client = signed_in(alice_key)

    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()

    assert 'Attendance (<span class="count">2</span>)' in page
    assert (
        '<strong>Bob &lt;b&gt;</strong> <span class="muted">12:00:05&ndash;'
        '<span class="until">now</span></span>'
    ) in page
    assert (
        '<strong>Chen</strong> <span class="muted">12:00:07&ndash;'
        '<span class="until">12:09:30</span></span>'
    ) in page

    # Renamed as a speaker, an attendee is listed by the new name.
    transcript_services.speaker_rename(meeting_id=meeting.pk, speaker="Chen", name="Wei")
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert (
        '<strong>Wei</strong> <span class="muted">(on the call as Chen)</span> '
        '<span class="muted">12:00:07&ndash;<span class="until">12:09:30</span></span>'
    ) in page


def test_a_nul_in_a_form_value_is_refused_and_creates_nothing(alice: User, alice_key: str) -> None:
    response = signed_in(alice_key).post(
        "/dashboard/bots",
        {"meeting_url": "https://meet.google.com/abc-defg-hij", "bot_name": "Note\0taker"},
    )
    assert response.status_code == 422
    assert b"bot name: Null characters are not allowed." in response.content
    assert not Meeting.objects.filter(user=alice).exists()


def test_a_finished_meetings_page_plays_and_downloads_its_recording(
    alice: User, alice_key: str, tmp_path: Path
) -> None:
    """The API serves recordings to a key header; the dashboard, signed in by session, shows a
    player that can seek (byte ranges) and a download link."""
    with override_settings(RECORDINGS_DIR=tmp_path):
        recording = recorded(alice, seconds=2.0)
        content = Path(recording.file_path).read_bytes()
        client = signed_in(alice_key)
        page = client.get(f"/dashboard/meetings/{recording.meeting_id}")
        url = f"/dashboard/recordings/{recording.pk}/audio"
        whole = client.get(url)
        part = client.get(url, HTTP_RANGE="bytes=44-99")
        anonymous = Client().get(url)

    player = f'<audio controls preload="none" data-recording="{recording.pk}" src="{url}">'
    assert player.encode() in page.content
    assert whole.status_code == 200
    assert whole["Content-Type"] == "audio/ogg"
    assert f'filename="recording-{recording.pk}.opus"' in whole["Content-Disposition"]
    assert "Download .opus" in page.content.decode()
    assert b"".join(whole.streaming_content) == content  # type: ignore[attr-defined]
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == content[44:100]  # type: ignore[attr-defined]
    assert anonymous.status_code == 302


def test_the_meeting_page_says_when_retention_deletes_the_audio_and_that_it_did(
    alice: User, alice_key: str, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(alice_key)
    with override_settings(RECORDINGS_DIR=tmp_path, RECORDING_RETENTION_DAYS=7):
        recording = recorded(alice, seconds=1.0)
        assert recording.completed_at is not None
        expires = (recording.completed_at + timedelta(days=7)).strftime("%Y-%m-%d %H:%M")
        before = client.get(f"/dashboard/meetings/{recording.meeting_id}").content.decode()
    with override_settings(RECORDINGS_DIR=tmp_path, MEETING_RETENTION_DAYS=1):
        Meeting.objects.filter(pk=recording.meeting_id).update(
            end_time=timezone.now() - timedelta(days=2)
        )
        with django_capture_on_commit_callbacks(execute=True):
            retention.retention_apply()
        after = client.get(f"/dashboard/meetings/{recording.meeting_id}").content.decode()

    assert f"deleted automatically on {expires} UTC" in before
    assert "retention period" in after
    assert "<audio" not in after
    assert "No transcript yet" not in after


# --- settings: API keys and webhooks -------------------------------------------------------------


def new_key_on(page: bytes) -> str:
    found = re.search(rb'<code id="new-key">(vex_[^<]+)</code>', page)
    assert found is not None, "no new key on the page"
    return found.group(1).decode()


def test_a_new_key_is_shown_once_and_works_with_the_api(alice: User, alice_key: str) -> None:
    client = signed_in(alice_key)
    created = client.post("/dashboard/settings/keys", {"name": "CI", "scopes": ["tx"]})
    assert created.status_code == 201
    plain = new_key_on(created.content)

    assert api_client(plain).get("/meetings").status_code == 200
    assert api_client(plain).post("/bots", {}, format="json").status_code == 403  # tx only
    later = client.get("/dashboard/settings").content.decode()
    assert plain not in later
    assert f"{plain[:8]}…" in later
    assert "CI" in later


def test_the_settings_page_says_how_to_connect_an_ai_assistant_with_a_new_key(
    alice: User, alice_key: str
) -> None:
    client = signed_in(alice_key)
    assert "Bearer YOUR_API_KEY" in client.get("/dashboard/settings").content.decode()
    page = client.post("/dashboard/settings/keys", {"name": "Claude", "scopes": ["tx"]}).content
    plain = new_key_on(page)
    found = re.search(rb'<pre id="mcp-json">([^<]+)</pre>', page)
    assert found is not None
    server = json.loads(found.group(1))["mcpServers"]["meetings"]
    assert server["url"] == f"{settings.PUBLIC_BASE_URL}/mcp"
    assert f'--header "Authorization: Bearer {plain}"' in page.decode()
    # What the page says works: the MCP endpoint takes the key as it shows it.
    listed = Client().post(
        "/mcp",
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        content_type="application/json",
        headers=server["headers"],
    )
    assert "get_transcript" in {tool["name"] for tool in listed.json()["result"]["tools"]}


def test_a_key_made_here_cannot_have_scopes_the_session_key_lacks(alice: User) -> None:
    read_only = account_services.token_issue(user=alice, scopes=["tx"]).plain
    client = signed_in(read_only)

    refused = client.post("/dashboard/settings/keys", {"scopes": ["bot", "tx"]})
    unticked = client.post("/dashboard/settings/keys", {"name": "reader"})

    assert refused.status_code == 422
    assert "lacks [&#x27;bot&#x27;]" in refused.content.decode()
    assert ApiToken.objects.filter(user=alice).count() == 2
    # Nothing ticked: the session key's own scopes.
    assert ApiToken.objects.get(name="reader").scopes == ["tx"]
    assert unticked.status_code == 201


def test_revoking_a_key_stops_it_and_revoking_the_sessions_own_signs_out(
    alice: User, alice_key: str
) -> None:
    other = account_services.token_issue(user=alice, scopes=["bot", "tx"], name="old")
    client = signed_in(alice_key)

    client.post(f"/dashboard/settings/keys/{other.token.pk}/revoke")
    assert api_client(other.plain).get("/meetings").status_code == 401
    page = client.get("/dashboard/settings").content.decode()
    # The revoked key folds away below the working ones.
    working, retired = page.split('<details id="retired-keys">')
    assert f"{other.plain[:8]}…" in retired
    assert f"{other.plain[:8]}…" not in working
    assert f"{alice_key[:8]}…" in working
    assert "1 revoked or expired key<" in retired

    own = ApiToken.objects.get(user=alice, revoked=False)
    client.post(f"/dashboard/settings/keys/{own.pk}/revoke")
    assert client.get("/dashboard/settings")["Location"].startswith("/dashboard/login")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True)  # the receiver is on loopback
def test_a_webhook_added_here_gets_a_signed_test_event(alice_key: str, receiver: Receiver) -> None:
    client = signed_in(alice_key)
    added = client.post(
        "/dashboard/settings/webhooks", {"url": receiver.url, "event_types": ["meeting.completed"]}
    )
    assert added.status_code == 201
    secret = re.search(rb'<code id="new-secret">(whsec_[^<]+)</code>', added.content)
    assert secret is not None
    endpoint = WebhookEndpoint.objects.get(url=receiver.url)
    assert endpoint.event_types == ["meeting.completed"]

    tested = client.post(f"/dashboard/settings/webhooks/{endpoint.pk}/test")

    assert "HTTP 200 succeeded" in tested.content.decode()
    [request] = receiver.received
    event = Webhook(secret.group(1).decode()).verify(request.body, request.headers)
    assert event["event_type"] == "webhook.test"
    assert secret.group(1) not in client.get("/dashboard/settings").content
    assert b"webhook.test" in client.get("/dashboard/settings").content  # recent deliveries

    client.post(f"/dashboard/settings/webhooks/{endpoint.pk}/delete")
    assert not WebhookEndpoint.objects.exists()


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
def test_a_webhook_to_a_private_address_is_refused_in_words(alice_key: str) -> None:
    refused = signed_in(alice_key).post(
        "/dashboard/settings/webhooks", {"url": "http://169.254.169.254/latest"}
    )
    assert refused.status_code == 422
    assert b'class="error"' in refused.content
    assert not WebhookEndpoint.objects.exists()


def test_another_users_key_and_webhook_are_404s(bob: User, alice_key: str) -> None:
    theirs = account_services.token_issue(user=bob, scopes=["tx"])
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        endpoint = webhook_services.endpoint_create(user=bob, url="http://127.0.0.1:9/hook")
    client = signed_in(alice_key)

    assert client.post(f"/dashboard/settings/keys/{theirs.token.pk}/revoke").status_code == 404
    assert client.post(f"/dashboard/settings/webhooks/{endpoint.pk}/test").status_code == 404
    assert client.post(f"/dashboard/settings/webhooks/{endpoint.pk}/delete").status_code == 404
    assert api_client(theirs.plain).get("/meetings").status_code == 200
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert b"127.0.0.1:9" not in client.get("/dashboard/settings").content


def test_the_settings_page_costs_the_same_queries_for_many_keys_and_webhooks(
    alice: User, alice_key: str, django_assert_num_queries: Any
) -> None:
    client = signed_in(alice_key)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        for n in range(5):
            account_services.token_issue(user=alice, name=f"key {n}")
            endpoint = webhook_services.endpoint_create(
                user=alice, url=f"http://127.0.0.1:{n + 1}/"
            )
            webhook_services.webhook_event_emit(
                user_id=alice.pk, event_type="meeting.completed", data={}, dedupe_key=f"e{n}"
            )
    assert WebhookDelivery.objects.filter(endpoint=endpoint).exists()
    for n in range(3):
        feed = CalendarFeed.objects.create(user=alice, url=f"https://cal.example.com/{n}.ics")
        for m in range(2):
            meeting = meeting_in(alice, "requested", native_meeting_id=f"cal-endr-{n}{m}a")
            CalendarEvent.objects.create(
                feed=feed, key=f"e{m}", starts_at=timezone.now(), ends_at=timezone.now(),
                meeting_url="https://meet.google.com/abc-defg-hij", meeting=meeting,
            )  # fmt: skip
    # Session, user, session key, then the page: keys, webhooks, recent deliveries, calendars
    # and their events with their bots.
    with django_assert_num_queries(8):
        page = client.get("/dashboard/settings")
    assert page.content.count(b"Revoke") == 6
    assert page.content.count(b"Send test") == 5
    assert page.content.count(b"Read now") == 3
    assert page.content.count(b"status-requested") == 6


def test_the_settings_forms_are_csrf_protected(alice_key: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies = signed_in(alice_key).cookies
    assert client.post("/dashboard/settings/keys", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.filter(name="x").exists()
    calendar = {"url": "https://cal.example.com/x.ics"}
    assert client.post("/dashboard/settings/calendars", calendar).status_code == 403
    assert not CalendarFeed.objects.exists()


def test_a_live_bot_is_asked_to_post_in_the_chat_from_the_meeting_page(
    alice: User, alice_key: str, bob_key: str
) -> None:
    meeting = meeting_in(alice, "active")
    client = signed_in(alice_key)
    url = f"/dashboard/meetings/{meeting.pk}/chat"
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert f'<form method="post" action="{url}">' in page

    assert client.post(url, {"text": "This call is <transcribed>."}).status_code == 302
    [message] = BotChatMessage.objects.filter(meeting=meeting)
    assert message.text == "This call is <transcribed>."
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert "Posted in the chat (1)" in page
    assert 'This call is &lt;transcribed&gt;. <span class="muted">pending</span>' in page
    assert '<details id="meeting-chat" hidden>' in page  # nothing said in the chat yet
    # What participants post there shows on the meeting's page, with the bot's posts.
    bot_services.bot_chat_read(meeting_id=meeting.pk, messages=[("Carol", "<b>Hi</b>\nall")])
    bot_services.bot_chat_posted(message_id=message.pk)
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert 'The meeting\'s chat (<span class="count">2</span>)' in page
    assert "<strong>Carol</strong>" in page
    assert "&lt;b&gt;Hi&lt;/b&gt;<br>all" in page
    assert "<strong>Vexa Bot</strong>" in page
    assert client.post(url, {"text": "Bye"}).status_code == 302
    assert client.post(url, {"text": ""}).status_code == 422
    assert signed_in(bob_key).post(url, {"text": "Hi"}).status_code == 404
    # Once the call is over the form is gone, and a post is refused in the API's words.
    lifecycle.transition(meeting_id=meeting.pk, to="completed", source="bot_callback")
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert 'id="post-in-chat"' not in page
    assert "pending" not in page
    assert 'Bye <span class="muted">failed: the bot left the call before it could post it' in page
    refused = client.post(url, {"text": "Late"})
    assert refused.status_code == 409
    assert "only a bot in the call can post in its chat" in refused.content.decode()
    assert BotChatMessage.objects.filter(meeting=meeting).count() == 2


def test_the_meeting_forms_are_csrf_protected(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "completed", data={"name": "Standup"})
    client = Client(enforce_csrf_checks=True)
    client.cookies = signed_in(alice_key).cookies
    for action in ("details", "speakers", "transcribe", "delete", "chat"):
        url = f"/dashboard/meetings/{meeting.pk}/{action}"
        assert client.post(url, {"name": "x", "speaker": "Unknown"}).status_code == 403
    meeting.refresh_from_db()
    assert meeting.data["name"] == "Standup"
    assert not meeting.data.get("redacted")


def test_the_transcript_downloads_in_each_export_format(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "completed", data={"name": "Standup"})
    add_segments(meeting, [(0.0, 1.5, "Alice", "Good morning."), (2.0, 3.0, "Bob", "Hi.")])
    client = signed_in(alice_key)
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    expected = {
        "txt": ("text/plain; charset=utf-8", "[00:00:00] Alice: Good morning."),
        "srt": ("application/x-subrip; charset=utf-8", "00:00:02,000 --> 00:00:03,000\nBob: Hi."),
        "vtt": ("text/vtt; charset=utf-8", "WEBVTT"),
        "json": ("application/json", '"text": "Good morning."'),
    }
    for fmt, (content_type, excerpt) in expected.items():
        url = f"/dashboard/meetings/{meeting.pk}/transcript.{fmt}"
        assert f'href="{url}"' in page
        response = client.get(url)
        assert response.status_code == 200, fmt
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"].endswith(f'_{meeting.pk}.{fmt}"')
        assert excerpt in response.content.decode(), fmt
    assert client.get(f"/dashboard/meetings/{meeting.pk}/transcript.pdf").status_code == 404
    assert client.post(f"/dashboard/meetings/{meeting.pk}/transcript.txt").status_code == 405


def test_name_and_notes_are_saved_shown_and_cleared(
    alice: User, alice_key: str, alice_api: Any
) -> None:
    meeting = meeting_in(alice, "completed", native_meeting_id="abc-defg-hij")
    client = signed_in(alice_key)
    url = f"/dashboard/meetings/{meeting.pk}/details"

    saved = client.post(url, {"name": "Budget review", "notes": "Ask <Bob>\nabout Q3"})
    assert saved.status_code == 302
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert '<h1>Budget review <span class="muted">google_meet abc-defg-hij</span></h1>' in page
    assert '<p class="notes">Ask &lt;Bob&gt;<br>about Q3</p>' in page
    # What the API's PATCH sets, and what its clients read back.
    body = alice_api.get(f"/meetings/{meeting.pk}").json()
    assert body["data"]["name"] == "Budget review"
    assert body["data"]["notes"] == "Ask <Bob>\nabout Q3"

    refused = client.post(url, {"name": "x" * 501, "notes": ""})
    assert refused.status_code == 422
    assert "name: Ensure this value has at most 500 characters" in refused.content.decode()
    meeting.refresh_from_db()
    assert meeting.data["name"] == "Budget review"  # a refused form changes nothing

    assert client.post(url, {"name": "", "notes": ""}).status_code == 302
    meeting.refresh_from_db()
    assert "name" not in meeting.data
    assert "notes" not in meeting.data
    assert "<h1>abc-defg-hij" in client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()


def test_a_speaker_is_renamed_from_the_talk_time_table(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "completed")
    add_segments(meeting, [(0.0, 1.5, "Alice", "Good morning."), (2.0, 3.0, None, "Hi.")])
    client = signed_in(alice_key)
    url = f"/dashboard/meetings/{meeting.pk}/speakers"
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert f'<form method="post" action="{url}" class="inline">' in page
    assert '<input type="hidden" name="speaker" value="Unknown">' in page

    assert client.post(url, {"speaker": "Unknown", "name": "Dana"}).status_code == 302
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert "<strong>Dana</strong>: Hi." in page
    assert '<input type="hidden" name="speaker" value="Dana">' in page
    refused = client.post(url, {"speaker": "Unknown", "name": "Eve"})
    assert refused.status_code == 422
    assert "No line of this transcript is said by &#x27;Unknown&#x27;" in refused.content.decode()
    assert client.post(url, {"speaker": "Dana", "name": ""}).status_code == 422
    assert client.post(url, {"speaker": "Dana", "name": "Dana\nEve"}).status_code == 422
    assert [s.speaker for s in Segment.objects.filter(meeting=meeting)] == ["Alice", "Dana"]


def test_a_live_meetings_speaker_is_renamed_for_what_is_heard_next_too(
    alice: User, alice_key: str
) -> None:
    meeting = meeting_in(alice, "active")
    add_segments(meeting, [(0.0, 1.5, "Alice", "Good morning."), (2.0, 3.0, None, "Hi.")])
    client = signed_in(alice_key)
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert (
        '<datalist id="speakers-seen"><option value="Alice"></option>'
        '<option value="Unknown"></option></datalist>'
    ) in page
    url = f"/dashboard/meetings/{meeting.pk}/speakers"
    assert client.post(url, {"speaker": "Unknown", "name": "Dana"}).status_code == 302
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert "<strong>Dana</strong>" in page
    meeting.refresh_from_db()
    assert meeting.data["speaker_names"] == {"Unknown": "Dana"}


def test_a_finished_meeting_shows_each_speakers_talk_time(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "completed")
    add_segments(
        meeting,
        [
            (0.0, 90.0, "Alice", "A long update on the budget."),
            (90.0, 120.0, "Bob <b>", "A question."),
        ],
    )
    page = signed_in(alice_key).get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td><meter .*?</meter> (.*?)</td>", page)
    assert rows == [("Alice", "1:30", "75 %"), ("Bob &lt;b&gt;", "0:30", "25 %")]
    live = meeting_in(alice, "active", native_meeting_id="liv-emee-tin")
    add_segments(live, [(0.0, 1.0, "Alice", "Hello.")])
    page = signed_in(alice_key).get(f"/dashboard/meetings/{live.pk}").content.decode()
    assert "<h2>Speakers</h2>" not in page  # shown once the meeting is over


def test_transcribe_again_queues_the_pass_and_the_page_follows_it(
    alice: User,
    alice_key: str,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with override_settings(RECORDINGS_DIR=tmp_path):
        recording = recorded(alice)
    meeting_id = recording.meeting_id
    client = signed_in(alice_key)
    url = f"/dashboard/meetings/{meeting_id}/transcribe"

    unknown = client.post(url, {"model": "/etc/passwd"})
    assert unknown.status_code == 422
    assert "Unknown model &#x27;/etc/passwd&#x27;" in unknown.content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        queued = client.post(url, {"model": ""})
    assert queued.status_code == 302
    assert len(callbacks) == 1  # the pass is enqueued after commit
    note = Meeting.objects.get(pk=meeting_id).data["retranscription"]
    assert note["state"] == "queued"
    assert note["model"] is None
    page = client.get(f"/dashboard/meetings/{meeting_id}").content.decode()
    assert "Transcribing the recording again, asked for at" in page
    # The finished page fetches itself until the pass is done.
    assert 'hx-trigger="load delay:3s"' in page

    meeting_services.retranscription_note(meeting_id=meeting_id, state="done", segments=3)
    fragment = client.get(f"/dashboard/meetings/{meeting_id}", HTTP_HX_REQUEST="true")
    assert "Transcribed again from the recording at" in fragment.content.decode()
    assert "(3 segments)" in fragment.content.decode()
    assert "hx-trigger" not in fragment.content.decode()

    live = meeting_in(alice, "active", native_meeting_id="liv-emee-tin")
    refused = client.post(f"/dashboard/meetings/{live.pk}/transcribe")
    assert refused.status_code == 409
    assert "Meeting is still in progress" in refused.content.decode()
    unrecorded = meeting_in(alice, "completed", native_meeting_id="unr-ecor-ded")
    page = client.get(f"/dashboard/meetings/{unrecorded.pk}").content.decode()
    assert "Transcribe again" not in page  # nothing to transcribe
    refused = client.post(f"/dashboard/meetings/{unrecorded.pk}/transcribe")
    assert refused.status_code == 409
    assert "Meeting has no completed recording" in refused.content.decode()


def test_delete_removes_the_calls_content_and_keeps_its_history(
    alice: User,
    alice_key: str,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with override_settings(RECORDINGS_DIR=tmp_path):
        recording = recorded(alice)
        meeting = recording.meeting
        add_segments(meeting, [(0.0, 1.0, "Alice", "Secret plans.")])
        meeting_services.meeting_update_data(meeting_id=meeting.pk, changes={"name": "Secret"})
        client = signed_in(alice_key)
        # Another call under the same meeting id, which this page's delete leaves alone.
        other_call = meeting_in(alice, "completed", native_meeting_id=meeting.native_meeting_id)
        add_segments(other_call, [(0.0, 1.0, "Bob", "Kept.")])

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/dashboard/meetings/{meeting.pk}/delete")

    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.data["redacted"] is True
    assert "name" not in meeting.data
    assert meeting.data["status_transition"]
    assert not Segment.objects.filter(meeting=meeting).exists()
    assert not Path(recording.file_path).exists()
    assert Segment.objects.filter(meeting=other_call).count() == 1
    page = client.get(f"/dashboard/meetings/{meeting.pk}").content.decode()
    assert "transcript and recordings were deleted" in page
    assert "Secret" not in page
    assert 'action="/dashboard/meetings/' + str(meeting.pk) + '/delete"' not in page

    live = meeting_in(alice, "active", native_meeting_id="liv-emee-tin")
    add_segments(live, [(0.0, 1.0, "Alice", "Still talking.")])
    refused = client.post(f"/dashboard/meetings/{live.pk}/delete")
    assert refused.status_code == 409
    assert "stop the bot and wait for it to finish first" in refused.content.decode()
    assert Segment.objects.filter(meeting=live).count() == 1


def test_a_calendar_added_here_shows_its_events_and_their_bots(
    alice: User, alice_key: str, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(
        vevent("review@x", soon, title="Budget <review>"),
        vevent("again@x", soon + timedelta(hours=2), title="Budget again"),  # the same room
    )
    client = signed_in(alice_key)

    added = client.post(
        "/dashboard/settings/calendars", {"url": calendar_server.url, "name": "Work"}
    )

    assert added.status_code == 201
    page = added.content.decode()
    assert "Calendar Work added: 1 bot scheduled, 1 event refused for now" in page
    assert calendar_server.url not in page  # the address reads the calendar
    assert "Budget &lt;review&gt;" in page
    meeting = Meeting.objects.get(user=alice)
    assert f'href="/dashboard/meetings/{meeting.pk}"' in page
    assert f"joins at {(soon - timedelta(minutes=1)):%H:%M}" in page
    assert "not scheduled:" in page

    calendar_server.status = 500
    feed = CalendarFeed.objects.get(user=alice)
    assert client.post(f"/dashboard/settings/calendars/{feed.pk}/sync").status_code == 302
    page = client.get("/dashboard/settings").content.decode()
    assert "The calendar answered HTTP 500" in page

    assert client.post(f"/dashboard/settings/calendars/{feed.pk}/delete").status_code == 302
    assert not CalendarFeed.objects.exists()
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.COMPLETED


def test_one_calendar_event_is_skipped_and_sent_a_bot_again_here(
    alice: User, alice_key: str, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(vevent("review@x", soon, title="Budget review"))
    client = signed_in(alice_key)
    client.post("/dashboard/settings/calendars", {"url": calendar_server.url})
    event = CalendarEvent.objects.get(feed__user=alice)
    address = f"/dashboard/settings/calendars/{event.feed_id}/events/{event.pk}/bot"
    assert ">Skip</button>" in client.get("/dashboard/settings").content.decode()

    assert client.post(address).status_code == 302
    page = client.get("/dashboard/settings").content.decode()
    assert "status-completed" in page
    assert "skipped" in page
    assert ">Send a bot</button>" in page

    # Meanwhile a bot went to the same meeting by hand: the refusal is said in words.
    by_hand = bot_services.bot_create(user=alice, meeting_url=event.meeting_url, join_at=soon)
    refused = client.post(address, {"send": "1"})
    assert refused.status_code == 409
    assert "already running" in refused.content.decode()

    bot_services.bot_stop(meeting_id=by_hand.pk)
    assert client.post(address, {"send": "1"}).status_code == 302
    event.refresh_from_db()
    assert not event.skipped
    assert event.meeting is not None
    assert event.meeting.status == MeetingStatus.REQUESTED
    assert ">Skip</button>" in client.get("/dashboard/settings").content.decode()


def test_a_calendar_that_cannot_be_read_is_said_in_words_here(
    alice_key: str, calendar_server: CalendarServer
) -> None:
    calendar_server.status = 404
    refused = signed_in(alice_key).post(
        "/dashboard/settings/calendars", {"url": calendar_server.url}
    )
    assert refused.status_code == 422
    assert "Could not read the calendar: The calendar answered HTTP 404" in refused.content.decode()
    assert not CalendarFeed.objects.exists()


def test_another_users_calendar_is_a_404_here(bob: User, alice_key: str) -> None:
    theirs = CalendarFeed.objects.create(user=bob, url="https://cal.example.com/bob.ics")
    client = signed_in(alice_key)
    assert client.post(f"/dashboard/settings/calendars/{theirs.pk}/sync").status_code == 404
    assert client.post(f"/dashboard/settings/calendars/{theirs.pk}/delete").status_code == 404
    event = CalendarEvent.objects.create(
        feed=theirs, key="e", starts_at=timezone.now(), ends_at=timezone.now(),
        meeting_url="https://meet.google.com/abc-defg-hij",
    )  # fmt: skip
    address = f"/dashboard/settings/calendars/{theirs.pk}/events/{event.pk}/bot"
    assert client.post(address).status_code == 404
    event.refresh_from_db()
    assert not event.skipped
    assert CalendarFeed.objects.filter(pk=theirs.pk).exists()
    assert b"bob.ics" not in client.get("/dashboard/settings").content
