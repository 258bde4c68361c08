"""MCP prompts: templates a person picks in their assistant (Claude Code shows each as a slash
command), filled here with a meeting's transcript."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from accounts.models import User
from mcp_server.tools import transcript_whole


@dataclass(frozen=True)
class Prompt:
    """One prompt as `prompts/list` shows it, the token scope it needs, and what fills it (the
    text of one user message); arguments are strings, as the protocol has them."""

    name: str
    title: str
    description: str
    scope: str
    arguments: tuple[tuple[str, str, bool], ...]  # name, description, required
    fill: Callable[[User, Mapping[str, Any]], str]

    def listing(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "arguments": [
                {"name": name, "description": description, "required": required}
                for name, description, required in self.arguments
            ],
        }


def summarize_meeting(user: User, args: Mapping[str, Any]) -> str:
    transcript = transcript_whole(user, args)
    return (
        "Summarize this meeting for someone who missed it: the decisions made, the action "
        "items with their owners (and dates, where said), and the open questions, each with "
        "who said it. Keep to what the transcript says; say so where it is unclear.\n\n"
        + transcript
    )


MEETING_ARGUMENTS = (
    ("platform", "google_meet, teams or zoom", False),
    ("native_meeting_id", "The meeting's id on its platform", False),
    ("meeting_id", "The meeting's #number, instead of (or to pick among) the above", False),
)
PROMPTS: tuple[Prompt, ...] = (
    Prompt(
        "summarize_meeting",
        "Summarize a meeting",
        "Decisions, action items with owners, and open questions from a meeting's transcript.",
        "tx",
        MEETING_ARGUMENTS,
        summarize_meeting,
    ),
)
PROMPTS_BY_NAME = {prompt.name: prompt for prompt in PROMPTS}
