"""Microsoft Teams (web, light meetings and enterprise): selectors and texts from
shared/PLATFORMS.md, in one table.

Teams may first offer the desktop app ("Continue on this browser"), then a pre-join form (name,
"Computer audio", camera and microphone toggles, "Join now"), then the lobby. It plays ONE mixed
remote audio stream for everybody, so who speaks comes from the tiles' voice-level outline,
which carries an extra class while its person speaks, and for people without a tile (a gallery
shows only so many) from live captions, which the bot turns on after admission (More →
"Language and speech" → "Turn on live captions"; selectors from peers' public bots, guesses).
"""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import Page

from bots.adapters.base import JoinError, Phase, PlatformAdapter, SelectorTable

LEAVE_BUTTONS = (
    "#hangup-button",
    'button[data-tid="hangup-main-btn"]',
    'button[aria-label="Leave"]',
)

TABLE = SelectorTable(
    name_input=(
        'input[data-tid="prejoin-display-name-input"]',
        'input[placeholder*="name"]',
        'input[placeholder*="Name"]',
    ),
    microphone_off=(
        '[data-tid="toggle-mute"][aria-checked="true"]',
        'button[aria-label="Mute mic"]',
        '[role="switch"][aria-label*="Microphone"][aria-checked="true"]',
    ),
    camera_off=(
        '[data-tid="toggle-video"][aria-checked="true"]',
        'button[aria-label="Turn camera off"]',
        '[role="switch"][aria-label*="Camera"][aria-checked="true"]',
    ),
    join_buttons=(
        'button[data-tid="prejoin-join-button"]',
        "#prejoin-join-button",
        'button:has-text("Join now")',
        'button:text-is("Join")',
    ),
    leave_buttons=LEAVE_BUTTONS,
    # The leave button alone counts as the call for Teams (PLATFORMS.md), but its candidates
    # often match one element twice, so the roster, chat and tiles are indicators as well.
    in_call_indicators=(
        *LEAVE_BUTTONS,
        "#roster-button",
        'button[data-tid="roster-button"]',
        "#chat-button",
        '[data-cid="calling-participant-stream"]',
    ),
    tile="[data-stream-type]",
    # Teams keeps the person's display name in the stream element's data-tid: stable per person.
    tile_id_attribute="data-tid",
    tile_name=('[data-tid*="display-name"]', '[data-tid*="participant-name"]'),
    # The extra class on `[data-tid="voice-level-stream-outline"]` while its person speaks.
    speaking_classes=("vdi-frame-occlusion",),
    prejoin_button_texts=("Join now",),
    continue_buttons=(
        'button[data-tid="joinOnWeb"]',
        'button:has-text("Continue on this browser")',
        'button:has-text("Continue")',
    ),
    # guess: the 2025-26 web client's menu ids (peers' bots).
    captions_steps=(
        ('button[data-tid="more-button"]', "button#callingButtons-showMoreBtn"),
        ("#LanguageSpeechMenuControl-id", '[role="menuitem"]:has-text("Language and speech")'),
        (
            '#closed-captions-button[data-tid="closed-captions-button-off"]'
            ':not([aria-disabled="true"])',
            '[role="menuitemcheckbox"]:has-text("Turn on live captions")'
            ':not([aria-disabled="true"])',
        ),
    ),
    captions_on=(
        '[data-tid="closed-caption-v2-window-wrapper"]',
        '[data-tid="closed-caption-renderer-wrapper"]',
        # The menu's toggle says so too, should the caption area stay empty and collapsed.
        '#closed-captions-button[data-tid="closed-captions-button-on"]',
    ),
    caption_text='[data-tid="closed-caption-text"]',
    caption_author='[data-tid="author"]',
    # guess (peers' public bots): the meeting chat's rich-text box (CKEditor) and send button.
    chat_open=("#chat-button", 'button[aria-label*="Chat"]'),
    chat_input=(
        '[data-tid="ckeditor"][contenteditable="true"]',
        'div[role="textbox"][contenteditable="true"]',
    ),
    chat_send=('button[data-tid="newMessageCommands-send"]', 'button[aria-label*="Send"]'),
    # guess: the meeting chat's messages, the author named on others' (the bot's own are shown
    # unnamed, on the right).
    chat_message='[data-tid="chat-pane-message"]',
    chat_group='[data-tid="chat-pane-item"]',
    chat_author='[data-tid="message-author-name"]',
    audio_option=(
        '[data-tid="prejoin-audiosettings-computer-audio"]',
        '[role="radio"]:has-text("Computer audio")',
        'label:has-text("Computer audio")',
    ),
    texts={
        "lobby": (
            "Someone will let you in shortly",
            "You're in the lobby",
            "Waiting for someone to let you in",
            "When the meeting starts, we'll let people know you're waiting",
        ),
        "rejected": (
            "Sorry, but you were denied access to the meeting",
            "You were denied entry",
            "denied access to the meeting",
        ),
        # Not in PLATFORMS.md's facts: candidates kept for completeness.
        "not_found": (
            "This meeting doesn't exist",
            "Meeting not found",
            "We couldn't find this meeting",
            "This meeting link is invalid",
        ),
        "lobby_timeout": (
            "No one responded to your request to join",
            "Sorry, no one let you in",
        ),
        "removed": (
            "You've been removed from this meeting",
            "You have been removed from this meeting",
            "removed you from the meeting",
        ),
        "ended": (
            "Meeting ended",
            "Call ended",
            "The meeting has ended",
            "You left the meeting",
        ),
    },
)


class TeamsAdapter(PlatformAdapter):
    platform = "teams"
    table = TABLE

    async def join(self, page: Page, *, bot_name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            snapshot = await self.snapshot(page)
            if snapshot.phase in (Phase.NOT_FOUND, Phase.REJECTED, Phase.ENDED, Phase.REMOVED):
                raise JoinError(f"the meeting page says: {snapshot.detail}", phase=snapshot.phase)
            if snapshot.phase is Phase.PREJOIN:
                break
            # "Continue on this browser" (instead of the desktop app) may come first.
            continue_selector = await self._first_visible(page, self.table.continue_buttons)
            if continue_selector is not None:
                await page.locator(continue_selector).first.click(timeout=5000)
                continue
            if time.monotonic() > deadline:
                raise JoinError("no name field or join button on the meeting page")
            await asyncio.sleep(0.2)
        await self._fill_form_and_join(page, bot_name=bot_name, deadline=deadline)
