"""Meeting platforms as the API sees them: accepted ids, passcodes, pasted links, real URLs.

The rules follow `shared/PLATFORMS.md`. Everything here is pure (no database, no I/O) so the API,
the dashboard and the bot runtime can share it. The bot runtime uses `real_meeting_url` (or the
stored `Meeting.constructed_meeting_url`) and swaps in the simulator's URL when configured.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from vexa_site.errors import BadRequest, InvalidInput

GOOGLE_MEET = "google_meet"
TEAMS = "teams"
ZOOM = "zoom"
PLATFORMS: tuple[str, ...] = (GOOGLE_MEET, TEAMS, ZOOM)

_MEET_CODE = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")
_MEET_NICKNAME = re.compile(r"^[a-z0-9][a-z0-9-]{3,38}[a-z0-9]$")
_TEAMS_NUMERIC = re.compile(r"^\d{10,15}$")
_TEAMS_LEGACY_HASH = re.compile(r"^[0-9a-f]{16}$")
_TEAMS_PASSCODE = re.compile(r"^[A-Za-z0-9]{4,20}$")
_ZOOM_ID = re.compile(r"^\d{9,11}$")
# Zoom's `pwd` is either the typed passcode or an encoded token like `AbC9xYz.1`.
_ZOOM_PASSCODE = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")

_MEET_HOSTS = frozenset({"meet.google.com"})
TEAMS_DEFAULT_HOST = "teams.live.com"
# Enterprise and government clouds serve the same `/meet/{id}?p=` links on their own hosts.
TEAMS_HOSTS = frozenset(
    {
        "teams.live.com",
        "teams.microsoft.com",
        "teams.cloud.microsoft",
        "gov.teams.microsoft.us",
        "dod.teams.microsoft.us",
        "teams.microsoft.us",
    }
)


class InvalidMeeting(BadRequest):
    """A meeting id, passcode or link that the platform would not accept (400)."""


@dataclass(frozen=True)
class MeetingRef:
    """A validated meeting: what the bot needs to find it, and the URL it opens."""

    platform: str
    native_meeting_id: str
    passcode: str | None
    meeting_url: str


def is_platform(value: str) -> bool:
    return value in PLATFORMS


def _require_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise InvalidMeeting(f"Unknown platform {platform!r}; expected one of {list(PLATFORMS)}")


def normalize_native_id(platform: str, native_meeting_id: str) -> str:
    """The canonical spelling of an id: Meet codes are lower case, Zoom ids lose spaces/dashes."""
    value = native_meeting_id.strip()
    if platform == GOOGLE_MEET:
        return value.lower()
    if platform == ZOOM:
        return re.sub(r"[\s-]", "", value)
    return value


def validate_native_id(platform: str, native_meeting_id: str) -> str:
    """Return the normalized id, or raise `InvalidMeeting` naming the expected format."""
    _require_platform(platform)
    value = normalize_native_id(platform, native_meeting_id)
    if platform == GOOGLE_MEET:
        if not (_MEET_CODE.match(value) or _MEET_NICKNAME.match(value)):
            raise InvalidMeeting(
                f"Invalid meeting ID format for google_meet: {native_meeting_id!r}; expected a "
                "meeting code like 'abc-defg-hij' or a Workspace nickname"
            )
    elif platform == TEAMS:
        if not (_TEAMS_NUMERIC.match(value) or _TEAMS_LEGACY_HASH.match(value)):
            raise InvalidMeeting(
                f"Invalid meeting ID format for teams: {native_meeting_id!r}; expected the "
                "10-15 digit meeting id of a Teams link"
            )
    elif not _ZOOM_ID.match(value):
        raise InvalidMeeting(
            f"Invalid meeting ID format for zoom: {native_meeting_id!r}; expected a 9-11 digit "
            "meeting id"
        )
    return value


def validate_passcode(platform: str, native_meeting_id: str, passcode: str | None) -> str | None:
    """Return the passcode (None when absent), or raise `InvalidMeeting` explaining why."""
    _require_platform(platform)
    passcode = (passcode or "").strip() or None
    if platform == GOOGLE_MEET:
        if passcode is not None:
            raise InvalidMeeting("Passcode is not allowed for google_meet meetings")
        return None
    if platform == TEAMS:
        if passcode is None:
            if _TEAMS_NUMERIC.match(native_meeting_id):
                raise InvalidMeeting(
                    "Passcode is required for teams meetings: the 'p' value of the meeting link"
                )
            return None
        if not _TEAMS_PASSCODE.match(passcode):
            raise InvalidMeeting("Invalid passcode for teams: expected 4-20 letters or digits")
        return passcode
    if passcode is not None and not _ZOOM_PASSCODE.match(passcode):
        raise InvalidMeeting("Invalid passcode for zoom: letters, digits, '.', '_' or '-' only")
    return passcode


def real_meeting_url(
    platform: str, native_meeting_id: str, passcode: str | None, *, host: str | None = None
) -> str:
    """The URL of the meeting on the real platform (the column "URL the bot opens").

    `host` overrides Teams' default `teams.live.com` (enterprise and government clouds).
    """
    _require_platform(platform)
    native = quote(native_meeting_id, safe="")
    if platform == GOOGLE_MEET:
        return f"https://meet.google.com/{native}"
    if platform == TEAMS:
        url = f"https://{host or TEAMS_DEFAULT_HOST}/meet/{native}"
        return f"{url}?p={quote(passcode, safe='')}" if passcode else url
    url = f"https://zoom.us/j/{native}"
    return f"{url}?pwd={quote(passcode, safe='')}" if passcode else url


def zoom_web_client_url(native_meeting_id: str, passcode: str | None) -> str:
    """Zoom's browser client for a meeting (skips the "open the Zoom app" page)."""
    url = f"https://app.zoom.us/wc/{quote(native_meeting_id, safe='')}/join"
    return f"{url}?pwd={quote(passcode, safe='')}" if passcode else url


def legacy_teams_id(meeting_url: str) -> str:
    """A stable 16-hex-digit id for a Teams link that has no numeric meeting id in it."""
    return hashlib.sha256(meeting_url.strip().encode()).hexdigest()[:16]


def parse_meeting_url(meeting_url: str) -> MeetingRef:
    """Turn a pasted meeting link into a validated `MeetingRef`, or raise `InvalidMeeting`."""
    raw = meeting_url.strip()
    try:
        parts = urlsplit(raw if "://" in raw else f"https://{raw}")
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise InvalidMeeting(f"meeting_url is not a valid link: {meeting_url!r}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidMeeting(f"meeting_url is not an http(s) link: {meeting_url!r}")
    segments = [s for s in parts.path.split("/") if s]
    query = parse_qs(parts.query)

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    if host in _MEET_HOSTS:
        if len(segments) != 1:
            raise InvalidMeeting("meeting_url is not a Google Meet meeting link")
        native = validate_native_id(GOOGLE_MEET, segments[0])
        return MeetingRef(GOOGLE_MEET, native, None, real_meeting_url(GOOGLE_MEET, native, None))

    if host in TEAMS_HOSTS:
        if len(segments) == 2 and segments[0] == "meet":
            native = validate_native_id(TEAMS, segments[1])
            passcode = validate_passcode(TEAMS, native, first("p"))
            url = real_meeting_url(TEAMS, native, passcode, host=host)
            return MeetingRef(TEAMS, native, passcode, url)
        if segments[:2] == ["l", "meetup-join"]:
            # Legacy links carry a thread id, not a meeting id: the bot must open the link as is.
            url = parts._replace(scheme="https").geturl()
            return MeetingRef(TEAMS, legacy_teams_id(url), None, url)
        raise InvalidMeeting("meeting_url is not a Microsoft Teams meeting link")

    if host == "zoom.us" or host.endswith(".zoom.us"):
        native_raw: str | None = None
        if len(segments) == 2 and segments[0] in ("j", "s", "w"):
            native_raw = segments[1]
        elif len(segments) == 3 and segments[0] == "wc":
            # Both `/wc/join/{id}` and `/wc/{id}/join` are in use.
            if segments[1] == "join":
                native_raw = segments[2]
            elif segments[2] in ("join", "start"):
                native_raw = segments[1]
        if native_raw is None:
            raise InvalidMeeting("meeting_url is not a Zoom meeting link with a numeric meeting id")
        native = validate_native_id(ZOOM, native_raw)
        passcode = validate_passcode(ZOOM, native, first("pwd"))
        return MeetingRef(ZOOM, native, passcode, real_meeting_url(ZOOM, native, passcode))

    raise InvalidMeeting(
        f"meeting_url host {host!r} is not a Google Meet, Microsoft Teams or Zoom meeting host"
    )


def resolve_meeting(
    *,
    platform: str | None,
    native_meeting_id: str | None,
    passcode: str | None,
    meeting_url: str | None,
) -> MeetingRef:
    """Validate what a client sent to `POST /bots`: a platform and id, a link, or both.

    When both are given they must name the same meeting; a legacy Teams id needs its link.
    """
    if meeting_url:
        ref = parse_meeting_url(meeting_url)
        if platform and platform != ref.platform:
            raise InvalidMeeting(
                f"meeting_url is a {ref.platform} link but platform is {platform!r}"
            )
        if native_meeting_id and normalize_native_id(ref.platform, native_meeting_id) != (
            ref.native_meeting_id
        ):
            raise InvalidMeeting(
                f"meeting_url names meeting {ref.native_meeting_id!r}, not {native_meeting_id!r}"
            )
        if passcode and ref.passcode and passcode != ref.passcode:
            raise InvalidMeeting("passcode differs from the passcode in meeting_url")
        if passcode and not ref.passcode:
            checked = validate_passcode(ref.platform, ref.native_meeting_id, passcode)
            host = urlsplit(ref.meeting_url).hostname if ref.platform == TEAMS else None
            url = ref.meeting_url
            if ref.platform != TEAMS or not _TEAMS_LEGACY_HASH.match(ref.native_meeting_id):
                url = real_meeting_url(ref.platform, ref.native_meeting_id, checked, host=host)
            return MeetingRef(ref.platform, ref.native_meeting_id, checked, url)
        return ref
    if not platform or not native_meeting_id:
        # Vexa's clients get FastAPI's answer to a missing required field: a 422 field list.
        raise InvalidInput(
            [
                {
                    "loc": ["body", name],
                    "msg": "field required (or give a meeting_url)",
                    "type": "value_error.missing",
                }
                for name, value in (
                    ("platform", platform),
                    ("native_meeting_id", native_meeting_id),
                )
                if not value
            ]
        )
    native = validate_native_id(platform, native_meeting_id)
    if platform == TEAMS and _TEAMS_LEGACY_HASH.match(native):
        raise InvalidMeeting(
            "meeting_url is required for a teams meeting id that is not numeric (legacy link)"
        )
    checked = validate_passcode(platform, native, passcode)
    return MeetingRef(platform, native, checked, real_meeting_url(platform, native, checked))
