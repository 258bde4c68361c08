"""The MCP tools: the REST API's operations as an AI assistant calls them.

Each tool validates its arguments with the REST endpoint's own input serializer (the same rules,
the same messages), fetches through the user-scoped selectors (another user's meeting is "not
found") and calls the same service, so the API, the dashboard and the tools cannot drift apart.
A tool answers text written for a model to read, and the data as `structuredContent`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from accounts.models import User
from bots import selectors as bot_selectors
from bots import services as bot_services
from bots.api import BotChatApi, BotConfigApi, BotCreateApi
from meetings import selectors as meeting_selectors
from meetings import services as meeting_services
from meetings.api import MeetingDataInput, MeetingListApi, MeetingSelectInput
from meetings.models import LIVE_STATUSES, Meeting, MeetingStatus, Platform
from meetings.serializers import meeting_wire
from transcripts import exports
from transcripts import selectors as transcript_selectors
from transcripts import services as transcript_services
from transcripts.api import ShareApi, SpeakersApi
from vexa_site.errors import InvalidInput, NotFound

LIST_DEFAULT = 20
LIST_MAX = 100
SEARCH_DEFAULT = 10


@dataclass(frozen=True)
class ToolOutput:
    """A tool's answer: `text` for the model, `data` (a JSON object) for programs."""

    text: str
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Tool:
    """One tool as `tools/list` shows it, the token scope it needs, and what runs it."""

    name: str
    title: str
    description: str
    scope: str
    properties: dict[str, Any]
    run: Callable[[User, Mapping[str, Any]], ToolOutput]
    required: tuple[str, ...] = ()
    read_only: bool = True
    destructive: bool = False
    # Whether it reaches beyond this server (a bot joins a meeting on the platform).
    open_world: bool = False

    def listing(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": {
                "type": "object",
                "properties": self.properties,
                "required": list(self.required),
                "additionalProperties": False,
            },
            "annotations": {
                "title": self.title,
                "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive,
                "idempotentHint": self.read_only,
                "openWorldHint": self.open_world,
            },
        }


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Mapping[str, Any]) -> Any:
    """The arguments as the REST endpoint's serializer accepts them (ValidationError if not);
    it reads its own fields and ignores the rest, and leaves out optional ones not given."""
    body = serializer_class(data=dict(data))
    body.is_valid(raise_exception=True)
    return body.validated_data


def _string(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


PLATFORM = _string("google_meet, teams or zoom", enum=list(Platform.values))
NATIVE_ID = _string(
    "The meeting's id on its platform: abc-defg-hij (Meet), the number in a Teams or Zoom link"
)
MEETING_ID = {
    "type": "integer",
    "minimum": 1,
    "description": "The #number list_meetings shows: names the meeting alone, or picks one "
    "call when the same platform id was met several times (default: the newest)",
}
# A meeting is named by its platform id, by its #number, or both.
MEETING_ARGS = {"platform": PLATFORM, "native_meeting_id": NATIVE_ID, "meeting_id": MEETING_ID}


def _meeting(user: User, args: Mapping[str, Any]) -> Meeting:
    """The user's meeting the arguments name (NotFound for anyone else's)."""
    picked = _valid(MeetingSelectInput, args)
    meeting_id = picked.get("meeting_id")
    named = "platform" in args or "native_meeting_id" in args
    if meeting_id is not None and not named:
        return meeting_selectors.meeting_get(user=user, meeting_id=meeting_id)
    if not named:
        raise InvalidInput(
            "Name the meeting: platform and native_meeting_id, or meeting_id (the #number "
            "list_meetings shows)"
        )
    return meeting_selectors.meeting_get_by_native(
        user=user,
        platform=str(args.get("platform", "")),
        native_meeting_id=str(args.get("native_meeting_id", "")),
        meeting_id=meeting_id,
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _summary(meeting: Meeting) -> dict[str, Any]:
    name = (meeting.data or {}).get("name")
    return {
        "meeting_id": meeting.pk,
        "platform": meeting.platform,
        "native_meeting_id": meeting.native_meeting_id,
        "name": name if isinstance(name, str) and name else None,
        "status": meeting.status,
        "start_time": meeting.start_time.isoformat() if meeting.start_time else None,
        "end_time": meeting.end_time.isoformat() if meeting.end_time else None,
        "created_at": meeting.created_at.isoformat(),
    }


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def meeting_line(meeting: Meeting) -> str:
    """One line naming a meeting for a model: #number, platform, id, name, status, when."""
    minutes = ""
    if meeting.start_time and meeting.end_time:
        minutes = f", {_duration((meeting.end_time - meeting.start_time).total_seconds())}"
    return (
        f"#{meeting.pk} {meeting.platform} {meeting.native_meeting_id} "
        f'"{exports.meeting_title(meeting)}": {meeting.status}, '
        f"{_when(meeting.start_time or meeting.created_at)}{minutes}"
    )


def list_meetings(user: User, args: Mapping[str, Any]) -> ToolOutput:
    given = {k: args[k] for k in ("status", "platform", "limit") if k in args}
    query = _valid(MeetingListApi.Input, {"limit": LIST_DEFAULT, **given})
    page = meeting_selectors.meeting_list(
        user=user,
        filters={k: query[k] for k in ("status", "platform") if k in query},
        limit=min(query["limit"], LIST_MAX),
    )
    lines = [meeting_line(m) for m in page.meetings] or ["No meetings."]
    if page.has_more:
        lines.append(f"(older meetings follow; ask for a larger limit, at most {LIST_MAX})")
    return ToolOutput(
        "\n".join(lines),
        {"meetings": [_summary(m) for m in page.meetings], "has_more": page.has_more},
    )


class SearchInput(serializers.Serializer[Any]):
    query = serializers.CharField(
        max_length=meeting_selectors.SEARCH_MAX_CHARS,
        validators=[transcript_selectors.search_terms_check],
    )
    limit = serializers.IntegerField(min_value=1, max_value=LIST_MAX, default=SEARCH_DEFAULT)


def search_transcripts(user: User, args: Mapping[str, Any]) -> ToolOutput:
    query = _valid(SearchInput, args)
    text = query["query"]
    if not transcript_selectors.search_terms(text):
        raise serializers.ValidationError({"query": ["There is no word in it to find."]})
    page = meeting_selectors.meeting_list(user=user, filters={"q": text}, limit=query["limit"])
    said = transcript_selectors.segment_first_matches(meetings=page.meetings, text=text)
    lines = []
    for meeting in page.meetings:
        lines.append(meeting_line(meeting))
        if meeting.pk in said:
            lines.append(f"  said: {said[meeting.pk]}")
    if not lines:
        lines = [f"No meeting has every word of {text!r} (words are found where they start)."]
    return ToolOutput(
        "\n".join(lines),
        {
            "meetings": [{**_summary(m), "first_line": said.get(m.pk)} for m in page.meetings],
            "has_more": page.has_more,
        },
    )


# ChatGPT's deep research and company knowledge use a connector only through two tools of
# these names and shapes (OpenAI's MCP guide): `search` (one query string -> JSON
# `{"results": [{"id", "title", "url"}]}`) and `fetch` (one id -> JSON `{"id", "title", "text",
# "url", "metadata"}`), each answered as one text item holding the JSON.
OPEN_SEARCH_RESULTS = 20
# Left out of a `search` query, which is often a question ("what did we decide about the
# budget?"): a word like these is in every meeting and finds nothing in particular.
SEARCH_IGNORED = frozenset(
    """a about after all also am an and any are as at be been before but by can could did do
    does for from had has have he her him his how i if in into is it its just me meeting
    meetings my of on or our she so than that the their them then there these they this those
    to us was we were what when where which who whom why will with would you your""".split()  # noqa: SIM905
)
DOCUMENT_ID = re.compile(r"^(?:meeting://)?(\d{1,18})$")


def meeting_url(meeting: Meeting) -> str:
    """The meeting's page on the dashboard, where its user reads it (a citation's link)."""
    return settings.PUBLIC_BASE_URL + reverse("dashboard:meeting", args=[meeting.pk])


class SearchQuestionInput(serializers.Serializer[Any]):
    query = serializers.CharField(max_length=1000, allow_blank=True, trim_whitespace=True)


# Endings a question's word may have that the line it looks for lacks, longest first.
WORD_ENDINGS = ("ies", "sses", "ing", "es", "ed", "s")


def word_stem(word: str) -> str:
    """The start every form of `word` shares, which search finds where a word starts:
    "decisions" -> "decision", "companies" -> "compan", "planned" -> "plan", "boxes" -> "box"
    (so the question's plural or tense does not miss the line that says another)."""
    lower = word.casefold()
    if " " in word or len(word) < 5 or lower.endswith(("ss", "us", "is")):
        return word
    for ending in WORD_ENDINGS:
        if lower.endswith(ending) and len(word) - len(ending) >= 3:
            if ending == "es" and not lower[:-2].endswith(("s", "x", "z", "ch", "sh")):
                ending = "s"
            if ending == "sses":
                ending = "es"
            stem = word[: -len(ending)]
            # planned, shipping: the doubled consonant is not in "plan" or "ship".
            doubled = stem[-1] == stem[-2] and stem[-1].lower() not in "lsz"
            if ending in ("ing", "ed") and doubled and len(stem) > 3:
                stem = stem[:-1]
            return stem
    return word


def _search_text(query: str) -> list[str]:
    """The query's words and phrases worth finding, as many as one search takes."""
    # A question's words end in its punctuation ("feature?"), which no line says.
    words = (re.sub(r"^\W+|\W+$", "", t) for t in transcript_selectors.search_terms(query))
    terms = [word_stem(t) for t in words if t and t.casefold() not in SEARCH_IGNORED]
    kept: list[str] = []
    for term in terms[: transcript_selectors.SEARCH_MAX_TERMS]:
        if len(" ".join([*kept, f'"{term}"'])) <= meeting_selectors.SEARCH_MAX_CHARS:
            kept.append(term)
    return kept


def search(user: User, args: Mapping[str, Any]) -> ToolOutput:
    """ChatGPT's `search`: the meetings with every word of the query worth finding, else those
    with most of them; newest first; an empty query lists the newest."""
    terms = _search_text(_valid(SearchQuestionInput, args)["query"])

    def having(found: list[str]) -> list[Meeting]:
        q = " ".join(f'"{term}"' for term in found)
        filters = {"q": q} if q else {}
        page = meeting_selectors.meeting_list(user=user, filters=filters, limit=OPEN_SEARCH_RESULTS)
        return page.meetings

    meetings = having(terms)
    if not meetings and len(terms) > 1:
        hits: dict[int, int] = {}
        seen: dict[int, Meeting] = {}
        for term in terms:
            for meeting in having([term]):
                hits[meeting.pk] = hits.get(meeting.pk, 0) + 1
                seen[meeting.pk] = meeting
        ranked = sorted(
            seen.values(), key=lambda m: (-hits[m.pk], -m.created_at.timestamp(), -m.pk)
        )
        meetings = ranked[:OPEN_SEARCH_RESULTS]
    results = [
        {"id": f"meeting://{m.pk}", "title": exports.meeting_title(m), "url": meeting_url(m)}
        for m in meetings
    ]
    return ToolOutput(json.dumps({"results": results}), {"results": results})


class FetchInput(serializers.Serializer[Any]):
    id = serializers.RegexField(
        DOCUMENT_ID.pattern,
        error_messages={"invalid": "An id that search returned: meeting://<number>."},
    )


def fetch(user: User, args: Mapping[str, Any]) -> ToolOutput:
    """ChatGPT's `fetch`: a meeting `search` found, with its whole transcript."""
    found = DOCUMENT_ID.match(_valid(FetchInput, args)["id"])
    assert found is not None  # the serializer checked it
    meeting = meeting_selectors.meeting_get(user=user, meeting_id=int(found.group(1)))
    document = {
        "id": f"meeting://{meeting.pk}",
        "title": exports.meeting_title(meeting),
        "text": "\n".join([transcript_whole(user, {}, meeting), *_chat_lines(meeting)]),
        "url": meeting_url(meeting),
        "metadata": {
            key: str(value) for key, value in _summary(meeting).items() if value is not None
        },
    }
    return ToolOutput(json.dumps(document), document)


# One answer's lines: about 15,000 tokens, under the 25,000 Claude Code accepts from a tool
# (it refuses a longer answer whole); a two-hour meeting is about 27,000.
PAGE_CHARS = 60_000
FROM_TIME = r"^(\d{1,3}:)?[0-5]?\d:[0-5]\d$"


class TranscriptWindow(serializers.Serializer[Any]):
    last_minutes = serializers.FloatField(min_value=0.1, max_value=24 * 60, required=False)
    from_time = serializers.RegexField(
        FROM_TIME,
        required=False,
        error_messages={"invalid": "Give a time of the transcript's lines: HH:MM:SS or MM:SS."},
    )


def _seconds(clock: str) -> int:
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _page(lines: list[exports.Cue], page_chars: int) -> tuple[list[exports.Cue], str | None]:
    """The lines that fit in `page_chars` (one at least), and the `from_time` of the rest.
    The rest starts at a line's second, so the page ends before every line of that second:
    asked from it, the next page repeats none."""
    size, taken = 0, 0
    while taken < len(lines):
        size += len(lines[taken].line()) + 1
        if taken and size > page_chars:
            break
        taken += 1
    if taken == len(lines):
        return lines, None
    second = int(lines[taken].start)
    while taken > 1 and int(lines[taken - 1].start) == second:
        taken -= 1
    return lines[:taken], exports.hms(lines[taken].start)


def _transcript(
    user: User, args: Mapping[str, Any], page_chars: int | None, meeting: Meeting | None = None
) -> ToolOutput:
    """`meeting`: the one `args` name, where the caller has it already."""
    window = _valid(TranscriptWindow, args)
    meeting = meeting or _meeting(user, args)
    segments = transcript_selectors.segment_list(meeting=meeting)
    lines = exports.cues(meeting, segments)
    if "last_minutes" in window and lines:
        # The last minutes of what was said (of a live meeting: up to now), not of the clock.
        cut = max(cue.end for cue in lines) - window["last_minutes"] * 60
        lines = [cue for cue in lines if cue.end >= cut]
    if "from_time" in window:
        start = _seconds(window["from_time"])
        first = next((n for n, cue in enumerate(lines) if int(cue.start) >= start), len(lines))
        lines = lines[first:]
    rest = None
    if page_chars is not None:
        lines, rest = _page(lines, page_chars)
    text = exports.transcript_header(meeting, segments) + "".join(
        f"{cue.line()}\n" for cue in lines
    )
    if meeting.status in LIVE_STATUSES:
        text = (
            f"(The meeting is {meeting.status}: the transcript grows, and its last lines may "
            "still change.)\n" + text
        )
    elif (meeting.data or {}).get("redacted"):
        text += "(Its transcript was deleted.)\n"
    elif not segments:
        text += "(Nothing was transcribed.)\n"
    elif not lines:
        text += f"(Nothing was said from {window['from_time']} on.)\n"
    if rest is not None:
        text += f'(It goes on: call get_transcript with from_time "{rest}" for what follows.)\n'
    return ToolOutput(text, {**_summary(meeting), "lines": len(lines), "next_from_time": rest})


def get_transcript(user: User, args: Mapping[str, Any]) -> ToolOutput:
    return _transcript(user, args, PAGE_CHARS)


def transcript_whole(user: User, args: Mapping[str, Any], meeting: Meeting | None = None) -> str:
    """The meeting's whole transcript as `get_transcript` writes it, in one piece."""
    return _transcript(user, args, None, meeting).text


def get_meeting(user: User, args: Mapping[str, Any]) -> ToolOutput:
    meeting = _meeting(user, args)
    data = meeting.data or {}
    lines = [meeting_line(meeting)]
    for key in ("notes", "participants", "languages"):
        if data.get(key):
            value = data[key]
            lines.append(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    attendance = data.get("attendance") or []
    if attendance:
        names = transcript_services.speaker_names(meeting)
        people = []
        for stay in attendance:
            shown = str(stay.get("name"))
            named = names.get(shown, shown)
            people.append(named if named == shown else f"{named} (on the call as {shown})")
        lines.append("attended: " + ", ".join(people))
    segments = transcript_selectors.segment_list(meeting=meeting)
    talk = exports.speaker_talk_times(segments)
    if talk:
        lines.append(
            "spoke: "
            + ", ".join(f"{t.speaker} {_duration(t.seconds)} ({t.share:.0%})" for t in talk)
        )
    error = data.get("error_details")
    if meeting.status == MeetingStatus.FAILED:
        why = (error.get("message") if isinstance(error, dict) else None) or "no reason given"
        lines.append(f"failed while {data.get('failure_stage', 'running')}: {why}")
    elif data.get("completion_reason"):
        lines.append(f"ended: {data['completion_reason']}")
    history = data.get("status_transition") or []
    if history:
        lines.append("status history: " + " -> ".join(str(h.get("to")) for h in history))
    lines += _chat_lines(meeting)
    return ToolOutput("\n".join(lines), meeting_wire(meeting))


# A meeting's chat in an answer: its last messages, each cut to a paragraph.
CHAT_LINES = 100
CHAT_LINE_CHARS = 500


def _chat_lines(meeting: Meeting) -> list[str]:
    """The meeting's chat as answer lines ("chat:", then "HH:MM:SS sender: text"), or none."""
    chat = bot_selectors.meeting_chat(meeting=meeting)
    if not chat:
        return []
    earlier = len(chat) - CHAT_LINES
    lines = [
        f"chat ({len(chat)} messages" + (f", the last {CHAT_LINES}):" if earlier > 0 else "):")
    ]
    for message in chat[-CHAT_LINES:]:
        text = " ".join(str(message["text"]).split())
        if len(text) > CHAT_LINE_CHARS:
            text = text[: CHAT_LINE_CHARS - 1] + "…"
        lines.append(f"{message['timestamp']:%H:%M:%S} {message['sender']}: {text}")
    return lines


def update_meeting(user: User, args: Mapping[str, Any]) -> ToolOutput:
    meeting = _meeting(user, args)
    changes = _valid(MeetingDataInput, args)
    meeting = meeting_services.meeting_update_data(meeting_id=meeting.pk, changes=dict(changes))
    return ToolOutput(f"Updated: {meeting_line(meeting)}", meeting_wire(meeting))


def create_share_link(user: User, args: Mapping[str, Any]) -> ToolOutput:
    params = _valid(ShareApi.CreateInput, args)
    meeting = _meeting(user, args)
    link = transcript_services.share_create(meeting=meeting, ttl_seconds=params["ttl_seconds"])
    url = transcript_services.share_url(link.share_id)
    return ToolOutput(
        f"{url}\n(public, no key needed; the transcript as text until {_when(link.expires_at)})",
        {"share_id": link.share_id, "url": url, "expires_at": link.expires_at.isoformat()},
    )


def rename_speaker(user: User, args: Mapping[str, Any]) -> ToolOutput:
    body = _valid(SpeakersApi.RenameInput, args)
    meeting = _meeting(user, args)
    renamed = transcript_services.speaker_rename(
        meeting_id=meeting.pk, speaker=body["speaker"], name=body["name"]
    )
    return ToolOutput(
        f"{body['speaker']} is {body['name']} now, in {renamed.segments} segment(s) of "
        f"{meeting_line(renamed.meeting)} and in what is transcribed later.",
        {**_summary(renamed.meeting), "segments": renamed.segments, "speaker_names": renamed.names},
    )


def send_bot(user: User, args: Mapping[str, Any]) -> ToolOutput:
    params = _valid(BotCreateApi.Input, args)
    meeting = bot_services.bot_create(user=user, **params)
    when = f" at {_when(meeting.join_at)}" if meeting.join_at else ""
    return ToolOutput(
        f"Bot requested for {meeting.platform} {meeting.native_meeting_id}{when} "
        f"(#{meeting.pk}, {meeting.status}); follow it with list_bots, read it with "
        "get_transcript.",
        meeting_wire(meeting),
    )


def list_bots(user: User, args: Mapping[str, Any]) -> ToolOutput:
    bots = bot_selectors.bot_running_list(user=user)
    return ToolOutput(
        "\n".join(meeting_line(m) for m in bots) or "No bot is running or scheduled.",
        {"running_bots": [_summary(m) for m in bots]},
    )


def _live_bot(user: User, args: Mapping[str, Any]) -> Meeting:
    """The user's live bot: of the meeting `meeting_id` names (that call, not a later one
    with the same platform id), else of the platform id, as `DELETE /bots/...` finds it."""
    if "meeting_id" not in args:
        return bot_selectors.bot_get_live(
            user=user,
            platform=str(args.get("platform", "")),
            native_meeting_id=str(args.get("native_meeting_id", "")),
        )
    meeting = _meeting(user, args)
    if meeting.status not in LIVE_STATUSES:
        raise NotFound(bot_selectors.BOT_NOT_FOUND)
    return meeting


def stop_bot(user: User, args: Mapping[str, Any]) -> ToolOutput:
    meeting = _live_bot(user, args)
    meeting = bot_services.bot_stop(meeting_id=meeting.pk, source="mcp")
    return ToolOutput(f"Stopping: {meeting_line(meeting)}", _summary(meeting))


def update_bot_config(user: User, args: Mapping[str, Any]) -> ToolOutput:
    meeting = _live_bot(user, args)
    changes = _valid(BotConfigApi.Input, args)
    meeting = bot_services.bot_update_config(meeting_id=meeting.pk, changes=dict(changes))
    return ToolOutput(
        f"Sent to the bot, for the audio from now on: {dict(changes)}", _summary(meeting)
    )


def post_in_chat(user: User, args: Mapping[str, Any]) -> ToolOutput:
    meeting = _live_bot(user, args)
    text = _valid(BotChatApi.Input, args)["text"]
    message = bot_services.bot_chat_send(meeting_id=meeting.pk, text=text)
    return ToolOutput(
        f"The bot posts it in the meeting's chat while it is in the call: {meeting_line(meeting)}",
        {**_summary(meeting), "chat_message_id": message.pk},
    )


LANGUAGE = _string("A Whisper language code such as en or de; empty or null to detect it")
BOT_CONFIG = {
    "language": {**LANGUAGE, "type": ["string", "null"]},
    "task": _string("transcribe, or translate (into English)", enum=["transcribe", "translate"]),
    "bot_name": _string("The name the bot shows in the meeting", maxLength=100),
}
STATUS = _string("Only meetings in this status", enum=list(MeetingStatus.values))
LIMIT = {"type": "integer", "minimum": 1, "maximum": LIST_MAX}

TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_meetings",
        "List meetings",
        "The user's meetings, newest first: id, platform, name, status and when.",
        "tx",
        {"status": STATUS, "platform": PLATFORM, "limit": {**LIMIT, "default": LIST_DEFAULT}},
        list_meetings,
    ),
    Tool(
        "search_transcripts",
        "Search transcripts",
        "Meetings whose name or final transcript has every word of the query (each where a "
        'word starts, any case; "quoted words" as one phrase), newest first, each with the '
        "first line that says them.",
        "tx",
        {"query": _string("Words to find"), "limit": {**LIMIT, "default": SEARCH_DEFAULT}},
        search_transcripts,
        required=("query",),
    ),
    Tool(
        "search",
        "Find meetings",
        "Meetings whose name or final transcript has the words of the query (every word, or "
        "else most), newest first, as JSON results with an id for fetch. For ChatGPT's deep "
        "research; search_transcripts also shows the line that says them.",
        "tx",
        {"query": _string("What to find: words, or a question about a meeting")},
        search,
        required=("query",),
    ),
    Tool(
        "fetch",
        "Read a meeting",
        "A meeting that search found, as JSON: its title, its whole transcript as "
        "`[HH:MM:SS] Speaker: text` lines (text), its page (url) and details (metadata).",
        "tx",
        {"id": _string("The id of a search result: meeting://<number>")},
        fetch,
        required=("id",),
    ),
    Tool(
        "get_transcript",
        "Get a transcript",
        "A meeting's transcript as `[HH:MM:SS] Speaker: text` lines (times from its start); "
        "during the meeting, what was said so far; last_minutes keeps only the end of it. A "
        "long one comes in parts: each says the from_time that reads on.",
        "tx",
        {
            **MEETING_ARGS,
            "last_minutes": {
                "type": "number",
                "minimum": 0.1,
                "description": "Only the last N minutes of what was said",
            },
            "from_time": _string(
                "Only the lines from this time on (HH:MM:SS, as the lines show it)",
                pattern=FROM_TIME,
            ),
        },
        get_transcript,
    ),
    Tool(
        "get_meeting",
        "Get a meeting",
        "A meeting's details: status and times, name, notes and participants, who attended, "
        "how long each speaker spoke, and why it ended.",
        "tx",
        MEETING_ARGS,
        get_meeting,
    ),
    Tool(
        "update_meeting",
        "Rename or annotate a meeting",
        "Set a meeting's name, notes, participants or languages; only the fields given change "
        "(null or an empty string clears one).",
        "tx",
        {
            **MEETING_ARGS,
            "name": {"type": ["string", "null"], "maxLength": 500},
            "notes": {"type": ["string", "null"]},
            "participants": {"type": ["array", "null"], "items": {"type": "string"}},
            "languages": {"type": ["array", "null"], "items": {"type": "string"}},
        },
        update_meeting,
        read_only=False,
    ),
    Tool(
        "create_share_link",
        "Share a transcript",
        "A public link to a meeting's transcript as text, for people or other AI tools; it "
        "expires (after an hour by default).",
        "tx",
        {
            **MEETING_ARGS,
            "ttl_seconds": {"type": "integer", "minimum": 60, "description": "Lifetime"},
        },
        create_share_link,
        read_only=False,
    ),
    Tool(
        "rename_speaker",
        "Rename a speaker",
        "Name a speaker of a meeting's transcript throughout it (Unknown, or a name the "
        "platform showed wrongly), also in what is transcribed later; naming them as another "
        "speaker merges the two.",
        "tx",
        {
            **MEETING_ARGS,
            "speaker": _string("The speaker as the transcript names them now", maxLength=255),
            "name": _string("The name to show instead", maxLength=255),
        },
        rename_speaker,
        required=("speaker", "name"),
        read_only=False,
    ),
    Tool(
        "send_bot",
        "Send a bot to a meeting",
        "A bot joins the meeting (a pasted meeting_url, or platform + native_meeting_id, with "
        "the passcode Teams needs), transcribes it live and records it; join_at schedules it.",
        "bot",
        {
            "meeting_url": _string("The meeting's link, as pasted"),
            "platform": PLATFORM,
            "native_meeting_id": NATIVE_ID,
            "passcode": _string("Teams' passcode (the p= of its link), or Zoom's"),
            "join_at": _string("When to join, ISO 8601 (default: now)", format="date-time"),
            **BOT_CONFIG,
            "chat_on_join": _string(
                "A message the bot posts in the meeting's chat once it is let in (that the "
                "call is transcribed)",
                maxLength=4096,
            ),
        },
        send_bot,
        read_only=False,
        open_world=True,
    ),
    Tool(
        "list_bots",
        "List running bots",
        "The user's bots that have not finished (scheduled ones included), with their status.",
        "bot",
        {},
        list_bots,
    ),
    Tool(
        "stop_bot",
        "Stop a bot",
        "The meeting's bot leaves the call; its transcript so far is kept.",
        "bot",
        MEETING_ARGS,
        stop_bot,
        read_only=False,
        destructive=True,
        open_world=True,
    ),
    Tool(
        "post_in_chat",
        "Post in the meeting's chat",
        "The meeting's bot posts the text in the meeting's chat, for everyone in the call to "
        "read (that the call is transcribed, a link, a summary).",
        "bot",
        {**MEETING_ARGS, "text": _string("What to post", minLength=1, maxLength=4096)},
        post_in_chat,
        required=("text",),
        read_only=False,
        open_world=True,
    ),
    Tool(
        "update_bot_config",
        "Change a bot's language",
        "Change a running bot's language, task or name; it applies to the audio that follows.",
        "bot",
        {**MEETING_ARGS, **BOT_CONFIG},
        update_bot_config,
        read_only=False,
    ),
)
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}
