"""The bot's part in the meeting's chat: posting what the user asked it to, and reading what
participants post there from the chat's open panel.

A panel lists the chat oldest first and only ever adds at the end; each page scan sees its last
rows. The rows new since the last scan are those after the longest run at the start of the
scan that repeats the end of what was read before: so a row shown again (the panel re-rendered,
Teams listing the whole chat again to a bot back from a rejoin) is not read twice, and a message
that repeats an earlier one ("+1" twice) still counts. The bot's own messages are left out
before that (the API has them as the bot's); a message edited after it was read is read again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from bots import selectors as bot_selectors
from bots import services as bot_services
from bots.adapters.base import ChatError, PageSnapshot, PlatformAdapter
from vexa_site.db import db_retry
from vexa_site.errors import Conflict

logger = logging.getLogger(__name__)

# What is kept of the chat read so far: more than a scan shows (`SNAPSHOT_JS` reads the last 50).
KEEP_ROWS = 200
# The chat's panel (to read what participants post there) is tried this long after admission,
# a click every `OPEN_RETRY_S` (time for the panel to open: a click sooner would close it).
OPEN_TRY_S = 30.0
OPEN_RETRY_S = 2.0

# The bot's one step on its page (`BotRun._page_step`): True once done, a failed click False.
PageStep = Callable[[Callable[[Page], Coroutine[Any, Any, bool]], str], bool]


@dataclass
class ChatReader:
    """Turns successive scans of the chat's rows into the messages new in each (pure)."""

    read: list[tuple[str, str]] = field(default_factory=list)

    def observe(self, rows: Iterable[tuple[str, str]], *, own: set[str]) -> list[tuple[str, str]]:
        """The (sender, text) rows of one scan, oldest first → the messages not read before.
        Rows without a sender, or whose sender is in `own` (the bot's names), are the bot's."""
        shown = [(sender, text) for sender, text in rows if sender and sender not in own]
        longest = min(len(shown), len(self.read))
        overlap = next(
            (n for n in range(longest, 0, -1) if shown[:n] == self.read[len(self.read) - n :]), 0
        )
        new = shown[overlap:]
        self.read = (self.read + new)[-KEEP_ROWS:]
        return new


class MeetingChat:
    """One bot's chat duties: it posts what waits, oldest first, each once (posting again could
    post twice) and recorded as sent or why not; and once in the call it opens the chat's
    panel and stores each message participants post there (`ChatReader`)."""

    def __init__(self, meeting_id: int, *, read: list[tuple[str, str]] | None = None) -> None:
        self.meeting_id = meeting_id
        self.reader = ChatReader(read=list(read or []))
        # The chat's panel: None while being opened (again on a rejoin's new page), then
        # whether its messages can be read.
        self.open: bool | None = None
        self.open_retry_at = 0.0

    @classmethod
    def resumed(cls, meeting_id: int) -> MeetingChat:
        """For a bot taking over the meeting: what the lost bot read is not read again."""
        read = bot_selectors.chat_read_rows(meeting_id=meeting_id, last=KEEP_ROWS)
        return cls(meeting_id, read=read)

    def queue(self, text: str) -> None:
        """A message to post at the bot's next look at the meeting row (the one it was sent
        with, that the call is transcribed)."""
        try:
            db_retry(
                lambda: bot_services.bot_chat_send(meeting_id=self.meeting_id, text=text),
                what=f"meeting {self.meeting_id}: queueing its message on joining",
            )
        except Conflict as exc:  # stopped meanwhile: nobody is left to read it
            logger.info("meeting %s: no message on joining: %s", self.meeting_id, exc)

    def post_waiting(self, send: Callable[[str], None]) -> None:
        """Post what waits with `send` (raises why it could not) and record each."""
        waiting = db_retry(
            lambda: bot_selectors.bot_chat_waiting(meeting_id=self.meeting_id),
            what=f"meeting {self.meeting_id}: reading its chat messages",
        )
        for message in waiting:
            error: str | None = None
            try:
                send(message.text)
            except (ChatError, PlaywrightError, TimeoutError) as exc:
                error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                logger.warning("meeting %s: chat message not posted: %s", self.meeting_id, error)
            db_retry(
                functools.partial(bot_services.bot_chat_posted, message_id=message.pk, error=error),
                what=f"meeting {self.meeting_id}: recording a chat message",
            )

    def open_step(
        self, page_step: PageStep, adapter: PlatformAdapter, *, now: float, admitted_at: float
    ) -> None:
        """One try at opening the panel; a platform whose chat the bot cannot read, or a panel
        that does not open within `OPEN_TRY_S`, leaves the chat unread."""
        if self.open is not None or now < self.open_retry_at:
            return
        self.open_retry_at = now + OPEN_RETRY_S
        if page_step(adapter.open_chat, "opening the chat"):
            self.open = bool(adapter.table.chat_message)
        elif now - admitted_at >= OPEN_TRY_S:
            logger.warning(
                "meeting %s: the chat's panel did not open; its messages are not read",
                self.meeting_id,
            )
            self.open = False

    def read(self, snap: PageSnapshot, *, own: set[str]) -> None:
        """Store what is new in the panel the scan `snap` saw (`own`: the bot's names)."""
        if not self.open:
            return
        new = self.reader.observe(snap.chat, own=own)
        if new:
            db_retry(
                lambda: bot_services.bot_chat_read(meeting_id=self.meeting_id, messages=new),
                what=f"meeting {self.meeting_id}: storing chat messages",
            )
