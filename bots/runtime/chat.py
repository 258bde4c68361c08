"""What participants post in the meeting's chat, read from its open panel.

A panel lists the chat oldest first and only ever adds at the end; each page scan sees its last
rows. The rows new since the last scan are those after the longest run at the start of the
scan that repeats the end of what was read before: so a row shown again (the panel re-rendered,
Teams listing the whole chat again to a bot back from a rejoin) is not read twice, and a message
that repeats an earlier one ("+1" twice) still counts. The bot's own messages are left out
before that (the API has them as the bot's); a message edited after it was read is read again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# What is kept of the chat read so far: more than a scan shows (`SNAPSHOT_JS` reads the last 50).
KEEP_ROWS = 200


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
