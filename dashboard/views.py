"""The user dashboard: server-rendered pages with HTMX fragments.

Thin views: parse the form, fetch through the same user-scoped selectors as the API, call the
same services, render. Sign-in is with an API key (users are created through the Admin API and
have no password); the session remembers which key, so revoking the key signs the session out.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.auth import token_for_key
from accounts.models import VALID_SCOPES, ApiToken, User
from bots import selectors as bot_selectors
from bots import services as bot_services
from calendars import selectors as calendar_selectors
from calendars import services as calendar_services
from dashboard.forms import (
    BotForm,
    CalendarForm,
    ChatMessageForm,
    DashboardForm,
    KeyForm,
    MeetingDetailsForm,
    RetranscribeForm,
    SpeakerRenameForm,
    WebhookForm,
)
from meetings import recordings
from meetings import selectors as meeting_selectors
from meetings import services as meeting_services
from meetings.models import LIVE_STATUSES, Meeting, MeetingStatus, Platform, RecordingStatus
from meetings.recordings_api import recording_response
from meetings.retention import recording_expires_at
from transcripts import exports, realtime, sse
from transcripts import selectors as transcript_selectors
from transcripts import services as transcript_services
from transcripts.engine.offline import retranscription_enqueue
from transcripts.models import Segment
from vexa_site.errors import DomainError, NotFound
from vexa_site.input_guard import MAX_PAGE
from webhooks import selectors as webhook_selectors
from webhooks import services as webhook_services
from webhooks.models import SUBSCRIBABLE_EVENT_TYPES

SESSION_TOKEN_KEY = "dashboard_api_token_id"  # noqa: S105 (a session key name)
# How often the meetings list fetches its rows again while a listed meeting is live.
LIST_REFRESH_S = 3
LIST_REFRESH_MAX_S = 300
LIST_PAGE_SIZE = 50
# A search's line in the meetings list: this long at most, its first hit within the first
# EXCERPT_LEAD_CHARS (a long line is cut in front).
EXCERPT_CHARS = 160
EXCERPT_LEAD_CHARS = 60
View = Callable[..., HttpResponseBase]


def signed_in_user(request: HttpRequest) -> User | None:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    token_id = request.session.get(SESSION_TOKEN_KEY)
    if token_id is None:
        return user if user.is_staff else None
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None or not token.is_usable():
        logout(request)
        return None
    return user


def _is_htmx(request: HttpRequest) -> bool:
    """django-htmx's middleware sets `request.htmx`; a fragment is rendered for it."""
    return bool(getattr(request, "htmx", False))


def dashboard_login_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = signed_in_user(request)
        if user is None:
            return redirect(f"{reverse('dashboard:login')}?next={request.path}")
        try:
            return view(request, user, *args, **kwargs)
        except NotFound as exc:
            # The same user-scoped selectors as the API: another user's meeting is a 404.
            raise Http404(str(exc.detail)) from None

    return wrapper


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    error = None
    if request.method == "POST":
        token = token_for_key(request.POST.get("api_key", "").strip())
        if token is None:
            error = "Invalid API key"
        elif "tx" not in (token.scopes or []):
            error = "This key lacks the tx scope needed to read meetings"
        else:
            login(request, token.user, backend="django.contrib.auth.backends.ModelBackend")
            request.session[SESSION_TOKEN_KEY] = token.pk
            target = request.GET.get("next", "")
            # Only our own pages: an assistant's consent page comes back here after sign-in.
            ours = target.startswith(("/dashboard/", "/oauth/authorize?"))
            return redirect(target if ours else "dashboard:meetings")
    return render(request, "dashboard/login.html", {"error": error}, status=401 if error else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("dashboard:login")


def _page_number(raw: str | None) -> int:
    """The list's `?page=` (1 for anything but a page number; a link is all that makes one)."""
    try:
        number = int(raw or 1)
    except ValueError:
        return 1
    return min(max(1, number), MAX_PAGE)


def _list_context(
    user: User,
    *,
    status: str | None,
    error: str | None,
    text: str = "",
    page_number: int = 1,
    platform: str | None = None,
) -> dict[str, Any]:
    if status not in MeetingStatus.values:
        status = None
    if platform not in Platform.values:
        platform = None
    text = text.strip()[: meeting_selectors.SEARCH_MAX_CHARS]
    searched = text
    try:
        transcript_selectors.search_terms_check(text)
    except ValidationError as exc:  # said above the list, which is then not searched
        error, searched = error or exc.messages[0], ""
    filters = {
        k: v for k, v in {"status": status, "platform": platform, "q": searched}.items() if v
    }
    page = meeting_selectors.meeting_list(
        user=user,
        filters=filters,
        limit=LIST_PAGE_SIZE,
        offset=(page_number - 1) * LIST_PAGE_SIZE,
    )
    said = transcript_selectors.segment_first_matches(meetings=page.meetings, text=searched)
    hits = _hits(searched)
    return {
        "meetings": [
            (m, _excerpt(said[m.pk], hits) if hits and m.pk in said else None)
            for m in page.meetings
        ],
        "refresh_s": _list_refresh_s(page.meetings),
        "status": status or "",
        "platform": platform or "",
        "platforms": Platform.values,
        "q": text,
        # The rows' own refresh keeps the filters and the page.
        "query": urlencode({**filters, **({"page": page_number} if page_number > 1 else {})}),
        "page_number": page_number,
        "newer_query": urlencode({**filters, "page": page_number - 1}),
        "older_query": urlencode({**filters, "page": page_number + 1}) if page.has_more else "",
        "statuses": MeetingStatus.values,
        "error": error,
    }


def _hits(text: str) -> re.Pattern[str] | None:
    """The words of a search where they start (as the search finds them), for marking; None
    without a search, or with more words than a search takes."""
    try:
        transcript_selectors.search_terms_check(text)
    except ValidationError:
        return None
    terms = transcript_selectors.search_terms(text)
    if not terms:
        return None
    return re.compile(
        "|".join(
            transcript_selectors.word_start_pattern(term)
            for term in sorted(terms, key=len, reverse=True)  # "budget review" before "budget"
        ),
        re.IGNORECASE,
    )


def _marked(text: str, hits: re.Pattern[str]) -> list[tuple[str, bool]]:
    """`text` as (text, is a hit) parts, for the template to mark (and escape)."""
    parts: list[tuple[str, bool]] = []
    at = 0
    for hit in hits.finditer(text):
        parts += [(text[at : hit.start()], False), (hit.group(), True)]
        at = hit.end()
    return [part for part in [*parts, (text[at:], False)] if part[0]]


def _excerpt(line: str, hits: re.Pattern[str]) -> list[tuple[str, bool]]:
    """About `EXCERPT_CHARS` of a line around its first hit of the search, cut at spaces."""
    first = hits.search(line)
    start = 0
    if first is not None and first.start() > EXCERPT_LEAD_CHARS:
        start = line.rfind(" ", 0, first.start() - EXCERPT_LEAD_CHARS // 2) + 1
    end = len(line)
    if end - start > EXCERPT_CHARS:
        cut = line.rfind(" ", start, start + EXCERPT_CHARS)
        end = cut if cut > start else start + EXCERPT_CHARS
    shown = ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
    return _marked(shown, hits)


def _list_refresh_s(meetings: list[Meeting]) -> int | None:
    """While a listed bot is on its way or in a call, the rows fetch themselves again every
    `LIST_REFRESH_S`; a bot scheduled for later (a calendar's, days ahead) only when it is
    due, at most `LIST_REFRESH_MAX_S` from now; a list with nothing live, never."""
    now = timezone.now()
    due_in = [
        (m.join_at - now).total_seconds() if m.join_at and m.join_at > now else 0.0
        for m in meetings
        if m.is_live
    ]
    if not due_in:
        return None
    return int(min(LIST_REFRESH_MAX_S, max(LIST_REFRESH_S, min(due_in) + 1)))


@dashboard_login_required
def meetings_view(request: HttpRequest, user: User) -> HttpResponse:
    status = request.GET.get("status") or None
    context = _list_context(
        user,
        status=status,
        error=None,
        text=request.GET.get("q", ""),
        page_number=_page_number(request.GET.get("page")),
        platform=request.GET.get("platform") or None,
    )
    template = "dashboard/_meeting_rows.html" if _is_htmx(request) else "dashboard/meetings.html"
    return render(request, template, context)


@dashboard_login_required
@require_POST
def bot_create_view(request: HttpRequest, user: User) -> HttpResponse:
    form = BotForm(request.POST)
    if not form.is_valid():
        context = _list_context(user, status=None, error=form.error_text())
        return render(request, "dashboard/meetings.html", context, status=422)
    try:
        meeting = bot_services.bot_create(
            user=user,
            meeting_url=form.cleaned_data["meeting_url"],
            bot_name=form.cleaned_data["bot_name"] or None,
            language=form.cleaned_data["language"] or None,
            join_at=form.cleaned_data["join_at"],
            chat_on_join=form.cleaned_data["chat_on_join"] or None,
        )
    except DomainError as exc:
        context = _list_context(user, status=None, error=exc.message)
        return render(request, "dashboard/meetings.html", context, status=exc.status_code)
    return redirect("dashboard:meeting", meeting_id=meeting.pk)


def _attendance(meeting: Meeting) -> list[dict[str, Any]]:
    """`data.attendance` with its times as datetimes, for the template to format, and each
    person under the name the user gave their speaker (`shown`: the platform's, where renamed)."""
    names = transcript_services.speaker_names(meeting)
    stays = []
    for entry in (meeting.data or {}).get("attendance") or []:
        try:
            left_at = entry.get("left_at")
            shown = str(entry["name"])
            named = names.get(shown, shown)
            stays.append(
                {
                    "name": named,
                    "shown": shown if named != shown else None,
                    "joined_at": datetime.fromisoformat(entry["joined_at"]),
                    "left_at": datetime.fromisoformat(left_at) if left_at else None,
                }
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            continue  # not the bot's shape: leave it out rather than fail the page
    return stays


def _rejoins(meeting: Meeting) -> list[dict[str, Any]]:
    """`data.bot_rejoins` with how long each gap lasted (None: not back in the call)."""
    rejoins = []
    for entry in (meeting.data or {}).get("bot_rejoins") or []:
        try:
            lost = datetime.fromisoformat(entry["timestamp"])
            resumed = entry.get("resumed_at")
            gap_s = (datetime.fromisoformat(resumed) - lost).total_seconds() if resumed else None
            rejoins.append({"at": lost, "cause": str(entry["cause"]), "gap_s": gap_s})
        except (AttributeError, KeyError, TypeError, ValueError):
            continue  # not the bot's shape: leave it out rather than fail the page
    return rejoins


def _talk_times(segments: list[Any]) -> list[dict[str, Any]]:
    """Each speaker's talk time as the page shows it (m:ss, a whole percent)."""
    return [
        {
            "speaker": t.speaker,
            "talk": f"{int(t.seconds) // 60}:{int(t.seconds) % 60:02d}",
            "percent": round(t.share * 100),
            "words": t.words,
        }
        for t in exports.speaker_talk_times(segments)
    ]


def _retranscription(meeting: Meeting) -> dict[str, Any] | None:
    """`data.retranscription` with its times as datetimes, for the template to format."""
    note = (meeting.data or {}).get("retranscription")
    if not isinstance(note, dict):
        return None
    shown = dict(note)
    for key in ("requested_at", "finished_at"):
        try:
            shown[key] = datetime.fromisoformat(note[key]) if note.get(key) else None
        except (TypeError, ValueError):
            shown[key] = None
    return shown


def _meeting_context(user: User, meeting: Meeting, *, found: str = "") -> dict[str, Any]:
    """`found`: the search the page was opened from (the meetings list's Find), whose words
    are marked in a finished meeting's lines, the first such line the page's `#found`."""
    segments = transcript_selectors.segment_list(meeting=meeting)
    is_live = meeting.status in LIVE_STATUSES
    chat_messages = bot_selectors.bot_chat_list(meeting=meeting)
    completed = list(
        recordings.recordings_for(user=user)
        .filter(meeting=meeting, status=RecordingStatus.COMPLETED)
        .order_by("created_at", "id")
    )
    # An utterance plays from its own session's recording: its `start_s` is a position in it.
    played_by = {r.session.session_uid: r.pk for r in completed if r.session is not None}
    utterances = [] if is_live else exports.utterances([s for s in segments if s.completed])
    hits = _hits(found)
    # The lines shown: while live, one per segment, which the page's event feed updates in
    # place by segment id (a mark goes with a draft's update); afterwards the same speaker's
    # consecutive segments as one utterance.
    lines: list[Segment] | list[exports.Utterance] = segments if is_live else utterances
    marked = [_marked(line.text, hits) if hits else [] for line in lines]
    return {
        "meeting": meeting,
        "segments": list(zip(segments, marked, strict=True)) if is_live else [],
        "utterances": []
        if is_live
        else [
            (u, played_by.get(u.session_uid), parts)
            for u, parts in zip(utterances, marked, strict=True)
        ],
        "found": found if hits else "",
        "found_lines": sum(any(hit for _part, hit in parts) for parts in marked),
        "found_at": next(
            (n for n, parts in enumerate(marked) if any(hit for _part, hit in parts)), None
        ),
        "drafts": [] if is_live else [s for s in segments if not s.completed],
        "history": (meeting.data or {}).get("status_transition", []),
        "attendance": _attendance(meeting),
        "rejoins": _rejoins(meeting),
        "is_live": is_live,
        "speakers": [] if is_live else _talk_times(segments),
        # While live, the rename form offers who has spoken so far (the page adds later ones).
        "speakers_seen": sorted({s.speaker or exports.UNKNOWN_SPEAKER for s in segments})
        if is_live
        else [],
        "retranscription": _retranscription(meeting),
        "chat_messages": chat_messages,
        "chat": bot_selectors.meeting_chat(meeting=meeting, bot_messages=chat_messages),
        "offline_models": settings.WHISPER_OFFLINE_MODELS,
        "recordings": [
            {
                "recording": r,
                "expires_at": recording_expires_at(r),
                "suffix": Path(r.file_path).suffix,
            }
            for r in completed
        ],
    }


@dashboard_login_required
def meeting_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    meeting = meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    found = request.GET.get("q", "").strip()[: meeting_selectors.SEARCH_MAX_CHARS]
    if _is_htmx(request):
        return render(request, "dashboard/_live.html", _meeting_context(user, meeting, found=found))
    return _meeting_page(request, user, meeting, found=found)


def _meeting_page(
    request: HttpRequest,
    user: User,
    meeting: Meeting,
    *,
    status: int = 200,
    found: str = "",
    **shown: Any,
) -> HttpResponse:
    """The whole meeting page; `shown` carries an action's refusal (`action_error`)."""
    meeting_id = meeting.pk
    events_after = None
    if meeting.status in LIVE_STATUSES:
        # The page's feed resumes after the log's newest event, read before the status and the
        # segments are: events are published after their commit, so whatever this render
        # misses comes in the feed.
        events_after = realtime.event_log_last_id(realtime.meeting_event_log_key(meeting))
        meeting = meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    context = {
        **_meeting_context(user, meeting, found=found),
        "events_after": events_after,
        "formats": list(exports.FORMATS),
        **shown,
    }
    return render(request, "dashboard/meeting.html", context, status=status)


def _meeting_for_feed(request: HttpRequest, meeting_id: int) -> Meeting | None:
    user = signed_in_user(request)
    if user is None:
        return None
    try:
        return meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    except NotFound as exc:
        raise Http404(str(exc.detail)) from None


async def meeting_events_view(request: HttpRequest, meeting_id: int) -> HttpResponseBase:
    """The live page's feed: this meeting's WebSocket messages as Server-Sent Events, for the
    signed-in user (their session, not an API key in the page). The page applies drafts and
    finals as they are published instead of re-rendering the transcript every 2 s.

    Async, like the API's SSE stream: an open page costs a coroutine and one Redis
    connection, not a worker thread."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    meeting = await sync_to_async(_meeting_for_feed)(request, meeting_id)
    if meeting is None:
        return JsonResponse({"detail": "Sign in again"}, status=401)
    return sse.event_stream_response(
        request, realtime.meeting_event_log_key(meeting), meeting_id=meeting.pk
    )


@dashboard_login_required
@require_POST
def meeting_stop_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    meeting = meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    # Already finished: the page shows the final status.
    with contextlib.suppress(DomainError):
        bot_services.bot_stop(meeting_id=meeting.pk, source="dashboard")
    return redirect("dashboard:meeting", meeting_id=meeting.pk)


@dashboard_login_required
@require_POST
def meeting_share_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    meeting = meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    share = transcript_services.share_create(meeting=meeting, ttl_seconds=3600)
    return render(
        request,
        "dashboard/_share.html",
        {"url": transcript_services.share_url(share.share_id), "share": share},
    )


@dashboard_login_required
@require_GET
def meeting_transcript_view(
    request: HttpRequest, user: User, meeting_id: int, fmt: str
) -> HttpResponse:
    """The transcript as a download, in the API's export formats (txt, srt, vtt, json)."""
    if fmt not in exports.FORMATS:
        raise Http404("No such transcript format")
    meeting = meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    segments = transcript_selectors.segment_list(meeting=meeting)
    return exports.export_response(meeting, segments, fmt)


def _meeting_action(
    request: HttpRequest,
    user: User,
    meeting_id: int,
    act: Callable[[Meeting, dict[str, Any]], Any],
    form_class: type[DashboardForm] | None = None,
) -> HttpResponse:
    """One of the meeting page's forms: the user's own meeting (404 for another's), the form
    checked (422), `act` with its values; a refusal is shown on the page in the API's words,
    success goes back to the page."""
    meeting = meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    values: dict[str, Any] = {}
    if form_class is not None:
        form = form_class(request.POST)
        if not form.is_valid():
            return _meeting_page(request, user, meeting, status=422, action_error=form.error_text())
        values = form.cleaned_data
    try:
        act(meeting, values)
    except DomainError as exc:
        return _meeting_page(
            request, user, meeting, status=exc.status_code, action_error=exc.message
        )
    return redirect("dashboard:meeting", meeting_id=meeting.pk)


@dashboard_login_required
@require_POST
def meeting_details_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    """Name and notes, as `PATCH /meetings/...` sets them: an emptied field is removed."""
    return _meeting_action(
        request,
        user,
        meeting_id,
        lambda meeting, values: meeting_services.meeting_update_data(
            meeting_id=meeting.pk, changes=values
        ),
        MeetingDetailsForm,
    )


@dashboard_login_required
@require_POST
def meeting_speaker_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    """Rename a speaker throughout the transcript, as `POST /meetings/{id}/speakers` does."""
    return _meeting_action(
        request,
        user,
        meeting_id,
        lambda meeting, values: transcript_services.speaker_rename(
            meeting_id=meeting.pk, speaker=values["speaker"], name=values["name"]
        ),
        SpeakerRenameForm,
    )


@dashboard_login_required
@require_POST
def meeting_chat_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    """The bot posts a message in the meeting's chat, as `POST /bots/.../chat` has it do."""
    return _meeting_action(
        request,
        user,
        meeting_id,
        lambda meeting, values: bot_services.bot_chat_send(
            meeting_id=meeting.pk, text=values["text"]
        ),
        ChatMessageForm,
    )


@dashboard_login_required
@require_POST
def meeting_retranscribe_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    """Queue the post-meeting pass (`POST /meetings/{id}/transcribe`); the page follows it
    through `data.retranscription`."""
    return _meeting_action(
        request,
        user,
        meeting_id,
        lambda meeting, values: retranscription_enqueue(
            user=user, meeting_id=meeting.pk, model=values["model"] or None
        ),
        RetranscribeForm,
    )


@dashboard_login_required
@require_POST
def meeting_delete_view(request: HttpRequest, user: User, meeting_id: int) -> HttpResponse:
    """Delete this call's transcript and recordings, keeping an anonymized stub (the API's
    `DELETE /meetings/...` for one `meeting_id`); a live meeting is refused."""
    return _meeting_action(
        request,
        user,
        meeting_id,
        lambda meeting, _: meeting_services.meetings_delete(meeting_ids=[meeting.pk]),
    )


@dashboard_login_required
def recording_view(
    request: HttpRequest, user: User, recording_id: int
) -> HttpResponse | StreamingHttpResponse:
    """A recording's audio for the meeting page's player (byte ranges, so it can seek) and its
    download link: the API's endpoint needs a key header, the dashboard signs in by session."""
    recording = recordings.recording_get(user=user, recording_id=recording_id)
    return recording_response(recording, range_header=request.headers.get("Range"))


# --- settings: API keys and webhooks -------------------------------------------------------------


def _session_token(request: HttpRequest, user: User) -> ApiToken | None:
    """The key this session signed in with; None for an operator's (staff) session."""
    token_id = request.session.get(SESSION_TOKEN_KEY)
    if token_id is None:
        return None
    return account_selectors.token_get_for_user(user=user, token_id=token_id)


def _settings_page(
    request: HttpRequest, user: User, *, status: int = 200, **shown: Any
) -> HttpResponse:
    """The settings page; `shown` carries what appears once (a new key or secret, a test's
    outcome) or an error for one of its forms."""
    tokens = list(account_selectors.token_list_for_user(user=user))
    context = {
        # Keys that work first; a long-lived account's revoked and expired ones fold away.
        "tokens": [t for t in tokens if t.is_usable()],
        "retired_tokens": [t for t in tokens if not t.is_usable()],
        "session_token_id": request.session.get(SESSION_TOKEN_KEY),
        "endpoints": list(webhook_selectors.endpoint_list(user=user)),
        "deliveries": webhook_selectors.delivery_recent(user=user, limit=10),
        "scopes": VALID_SCOPES,
        "event_types": SUBSCRIBABLE_EVENT_TYPES,
        "calendars": list(calendar_selectors.feed_list(user=user)),
        "calendar_sync_minutes": settings.CALENDAR_SYNC_EVERY_S // 60,
        "calendar_horizon_hours": settings.CALENDAR_HORIZON_S // 3600,
        "mcp_url": settings.PUBLIC_BASE_URL + reverse("mcp"),
        **shown,
    }
    return render(request, "dashboard/settings.html", context, status=status)


@dashboard_login_required
def settings_view(request: HttpRequest, user: User) -> HttpResponse:
    return _settings_page(request, user)


def _settings_create(
    request: HttpRequest,
    user: User,
    form_class: type[DashboardForm],
    create: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    error_key: str,
) -> HttpResponse:
    """A settings form that adds something: the form checked (422), `create` with its values
    returns what the page shows once (201); a refusal is shown above the form, in the
    service's words. Rendered, never redirected: a new key or secret exists only in this
    response."""
    form = form_class(request.POST)
    if not form.is_valid():
        return _settings_page(request, user, status=422, **{error_key: form.error_text()})
    try:
        shown = create(form.cleaned_data)
    except DomainError as exc:
        return _settings_page(request, user, status=exc.status_code, **{error_key: exc.message})
    return _settings_page(request, user, status=201, **shown)


@dashboard_login_required
@require_POST
def key_create_view(request: HttpRequest, user: User) -> HttpResponse:
    def create(values: dict[str, Any]) -> dict[str, Any]:
        issued = account_services.token_issue_for_self(
            user=user,
            signed_in_with=_session_token(request, user),
            scopes=values["scopes"],
            name=values["name"],
        )
        return {"new_key": issued}

    return _settings_create(request, user, KeyForm, create, error_key="key_error")


@dashboard_login_required
@require_POST
def key_revoke_view(request: HttpRequest, user: User, token_id: int) -> HttpResponse:
    token = account_selectors.token_get_for_user(user=user, token_id=token_id)
    account_services.token_revoke(token_id=token.pk)
    # Revoking the session's own key signs it out on the next page (`signed_in_user`).
    return redirect("dashboard:settings")


@dashboard_login_required
@require_POST
def webhook_create_view(request: HttpRequest, user: User) -> HttpResponse:
    def create(values: dict[str, Any]) -> dict[str, Any]:
        endpoint = webhook_services.endpoint_create(
            user=user, url=values["url"], event_types=values["event_types"]
        )
        return {"new_endpoint": endpoint}

    return _settings_create(request, user, WebhookForm, create, error_key="webhook_error")


@dashboard_login_required
@require_POST
def webhook_test_view(request: HttpRequest, user: User, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_selectors.endpoint_get(user=user, endpoint_id=endpoint_id)
    delivery = webhook_services.endpoint_test(endpoint=endpoint)
    return _settings_page(request, user, tested=delivery)


@dashboard_login_required
@require_POST
def webhook_delete_view(request: HttpRequest, user: User, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_selectors.endpoint_get(user=user, endpoint_id=endpoint_id)
    try:
        webhook_services.endpoint_delete(endpoint=endpoint)
    except DomainError as exc:
        return _settings_page(request, user, status=exc.status_code, webhook_error=exc.message)
    return redirect("dashboard:settings")


@dashboard_login_required
@require_POST
def calendar_create_view(request: HttpRequest, user: User) -> HttpResponse:
    """Add a calendar; it is read at once, so the page shows its events and their bots."""

    def create(values: dict[str, Any]) -> dict[str, Any]:
        feed, result = calendar_services.feed_create(
            user=user, url=values["url"], name=values["name"]
        )
        return {"new_calendar": feed, "new_calendar_sync": result}

    return _settings_create(request, user, CalendarForm, create, error_key="calendar_error")


@dashboard_login_required
@require_POST
def calendar_sync_view(request: HttpRequest, user: User, feed_id: int) -> HttpResponse:
    feed = calendar_selectors.feed_get(user=user, feed_id=feed_id)
    calendar_services.calendar_sync(feed_id=feed.pk)
    return redirect("dashboard:settings")


@dashboard_login_required
@require_POST
def calendar_delete_view(request: HttpRequest, user: User, feed_id: int) -> HttpResponse:
    feed = calendar_selectors.feed_get(user=user, feed_id=feed_id)
    calendar_services.feed_delete(feed=feed)
    return redirect("dashboard:settings")


@dashboard_login_required
@require_POST
def calendar_event_bot_view(
    request: HttpRequest, user: User, feed_id: int, event_id: int
) -> HttpResponse:
    """Skip one calendar event (`send=0`: its bot is stopped) or send it a bot again."""
    event = calendar_selectors.event_get(user=user, feed_id=feed_id, event_id=event_id)
    try:
        if request.POST.get("send") == "1":
            calendar_services.event_bot_add(event=event)
        else:
            calendar_services.event_bot_remove(event=event)
    except DomainError as exc:
        return _settings_page(request, user, status=exc.status_code, calendar_error=exc.message)
    return redirect("dashboard:settings")
