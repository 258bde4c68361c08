"""How a bot run ends: `Finish` (a completion reason, or a failure), and `BotFailure`, raised
wherever the bot cannot go on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class BotFailure(Exception):
    """The bot cannot go on; the meeting becomes `failed` at `stage`."""

    def __init__(self, stage: str, message: str, *, evidence: bool = False) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.evidence = evidence


@dataclass
class Finish:
    """How the run ends: a completion reason, or a failure."""

    status: str
    reason: str
    completion_reason: str | None = None
    failure_stage: str | None = None
    error: str | None = None
    extra: dict[str, Any] | None = None
