"""MCP resources: each meeting's transcript as a document the person attaches to a
conversation (Claude Code's `@` mentions, Claude Desktop's attachments), addressed
`meeting://{meeting_id}`; read-only, scope `tx`, the user's own meetings only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from accounts.models import User
from mcp_server import protocol
from mcp_server.protocol import RpcError
from mcp_server.tools import meeting_line, transcript_whole
from meetings import selectors as meeting_selectors
from meetings.models import Meeting
from transcripts import exports
from vexa_site.errors import NotFound

SCHEME = "meeting://"
URI = re.compile(r"^meeting://(\d{1,18})$")
PAGE_SIZE = 50
MIME_TYPE = "text/plain"
TEMPLATES = [
    {
        "uriTemplate": SCHEME + "{meeting_id}",
        "name": "meeting_transcript",
        "title": "A meeting's transcript",
        "description": "The transcript of the meeting with this #number (list_meetings shows "
        "it), as `[HH:MM:SS] Speaker: text` lines.",
        "mimeType": MIME_TYPE,
    }
]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CURSOR = re.compile(r"^(\d{1,20})\.(\d{1,18})$")


def _cursor(meeting: Meeting) -> str:
    """Where the next page starts: after this meeting (its creation in microseconds, its id)."""
    return f"{(meeting.created_at - EPOCH) // timedelta(microseconds=1)}.{meeting.pk}"


def resource_list(user: User, cursor: Any) -> dict[str, Any]:
    """The user's meetings as resources, newest first, `PAGE_SIZE` a page; `nextCursor`
    (opaque to clients: where the page ended) while more follow."""
    before = None
    if cursor is not None:
        found = CURSOR.match(cursor) if isinstance(cursor, str) else None
        if found is None:
            raise RpcError(protocol.INVALID_PARAMS, "Invalid cursor")
        created_at = EPOCH + timedelta(microseconds=int(found.group(1)))
        before = (created_at, int(found.group(2)))
    page = meeting_selectors.meeting_list_before(user=user, before=before, limit=PAGE_SIZE)
    result: dict[str, Any] = {
        "resources": [
            {
                "uri": f"{SCHEME}{meeting.pk}",
                "name": f"meeting-{meeting.pk}",
                "title": exports.meeting_title(meeting),
                "description": meeting_line(meeting),
                "mimeType": MIME_TYPE,
            }
            for meeting in page.meetings
        ]
    }
    if page.has_more:
        result["nextCursor"] = _cursor(page.meetings[-1])
    return result


def resource_read(user: User, uri: Any) -> dict[str, Any]:
    """The transcript `uri` names, whole (another user's meeting, or an address this server
    does not serve, is not found: -32602, as SEP-2164 has it)."""
    found = URI.match(uri) if isinstance(uri, str) else None
    try:
        if found is None:
            raise NotFound("Resource not found")
        text = transcript_whole(user, {"meeting_id": int(found.group(1))})
    except NotFound as error:
        raise RpcError(protocol.INVALID_PARAMS, error.message, data={"uri": uri}) from error
    return {"contents": [{"uri": uri, "mimeType": MIME_TYPE, "text": text}]}
