"""Google Meet (web): selectors and texts from shared/PLATFORMS.md, in one table."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import Page

from bots.adapters.base import JoinError, Phase, PlatformAdapter, SelectorTable

TABLE = SelectorTable(
    name_input=(
        'input[type="text"][aria-label="Your name"]',
        'input[aria-label="Your name"]',
        'input[placeholder="Your name"]',
    ),
    microphone_off=(
        'button[aria-label*="Turn off microphone"]',
        '[role="button"][aria-label*="Turn off microphone"]',
    ),
    camera_off=(
        'button[aria-label*="Turn off camera"]',
        '[role="button"][aria-label*="Turn off camera"]',
    ),
    # "Ask to join" for restricted meetings, "Join now" for open ones: both must work.
    join_buttons=(
        'button:has-text("Ask to join")',
        'button:has-text("Join now")',
        '[role="button"]:has-text("Ask to join")',
        '[role="button"]:has-text("Join now")',
        'button:text-is("Join")',
    ),
    leave_buttons=('button[aria-label="Leave call"]', 'button[aria-label*="Leave call"]'),
    in_call_indicators=(
        'button[aria-label*="People"]',
        'button[aria-label*="Chat"]',
        'button[aria-label*="Leave call"]',
        '[role="toolbar"]',
        "[data-participant-id]",
    ),
    tile="[data-participant-id]",
    tile_id_attribute="data-participant-id",
    tile_name=("span.notranslate", "[data-self-name]"),
    # Obfuscated class names Meet toggles on a tile's descendant while that person speaks.
    speaking_classes=("Oaajhc", "HX2H7", "wEsLMd", "OgVli"),
    # guess (peers' public bots): the "Chat with everyone" panel's box and send button.
    chat_open=('button[aria-label*="Chat with everyone"]', 'button[aria-label*="Chat"]'),
    chat_input=('textarea[aria-label*="Send a message"]', 'textarea[aria-label*="message"]'),
    chat_send=('button[aria-label*="Send a message"]', 'button[aria-label="Send message"]'),
    # "In-call messages" as peers' extensions read them (2024-25): one group per run of a
    # sender, named in its header ("You" on the bot's own); each message's text apart from the
    # "pin it" hint beside it.
    chat_message='[aria-live="polite"] div[jsname="dTKtvb"]',
    chat_group="div.Ss4fHf",
    chat_author=".poVWob",
    chat_own_authors=("You",),
    texts={
        "lobby": (
            "Asking to be let in",
            "You'll join the call when someone lets you in",
            "Please wait until a meeting host brings you into the call",
        ),
        "rejected": (
            "You can't join this video call",
            "denied your request to join",
            "Someone in the call denied your request",
        ),
        "not_found": (
            "Meeting not found",
            "Check your meeting code",
            "Can't join the meeting",
            "Invalid video call name",
        ),
        # A lobby timeout, not a host rejection.
        "lobby_timeout": (
            "No one responded to your request to join",
            "Return to home screen",
        ),
        "removed": (
            "You've been removed from the meeting",
            "The meeting organizer removed you",
            "removed you from the meeting",
        ),
        "ended": (
            "Meeting ended",
            "Meeting has ended",
            "Call ended",
            "The call has ended",
            "You left the meeting",
            "Connection lost",
        ),
    },
)


class GoogleMeetAdapter(PlatformAdapter):
    platform = "google_meet"
    table = TABLE

    async def join(self, page: Page, *, bot_name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        join_selector: str | None = None
        while True:
            snapshot = await self.snapshot(page)
            if snapshot.phase in (Phase.NOT_FOUND, Phase.REJECTED, Phase.ENDED, Phase.REMOVED):
                raise JoinError(f"the meeting page says: {snapshot.detail}", phase=snapshot.phase)
            join_selector = await self._first_visible(page, self.table.join_buttons)
            if snapshot.phase is Phase.PREJOIN or join_selector is not None:
                break
            if time.monotonic() > deadline:
                raise JoinError("no name field or join button on the meeting page")
            await asyncio.sleep(0.2)
        await self._fill_form_and_join(page, bot_name=bot_name, deadline=deadline)
