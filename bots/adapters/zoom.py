"""Zoom (web client): selectors and texts from shared/PLATFORMS.md, in one table.

The bot uses Zoom's browser client (`app.zoom.us/wc/{id}/join`): a preview page with a name field,
microphone and camera buttons and "Join". After Join the meeting may not have started yet
("Waiting for the host to start this meeting": the host may come late, so this is waited out like
a waiting room), then the waiting room, then the call. Meetings for signed-in users only show a
sign-in page instead of the form: a dead end for a guest bot. Zoom plays ONE mixed remote audio
stream for everybody; who speaks comes from the highlight class on that person's video tile.

The web client can let a guest into the call without its audio: the footer's first button reads
"Join Audio" and a dialog offers "Join Audio by Computer". Until that is clicked nothing of the
meeting is heard (Zoom starts its receive pipeline only then; peers' bots report admitted bots
that produced no transcript for this reason), so the bot joins it after admission
(`PlatformAdapter.join_audio`) and fails with the reason when it cannot.

A link whose `pwd` does not carry the meeting's passcode gets a passcode field on the preview:
the bot types the passcode it was given, fails at once when it has none, and a "Passcode wrong"
answer is a dead end with that reason (a request with the right passcode is the fix).

PLATFORMS.md gives the facts (URL, the "Join" button, the waiting texts, one mixed stream, the
speaker-highlight class, the ended/removed texts); every concrete selector below is a guess from
peers' public bots, marked `guess`, and kept with several candidates.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Page

from bots.adapters.base import (
    SNAPSHOT_JS,
    JoinError,
    PageSnapshot,
    Phase,
    PlatformAdapter,
    SelectorTable,
    classify,
)
from bots.platforms import InvalidMeeting, parse_meeting_url, zoom_web_client_url

# guess: the footer's Leave button (peers report `aria-label="Leave"`).
LEAVE_BUTTONS = (
    'button[aria-label="Leave"]',
    "button.footer__leave-btn",
    ".footer__leave-btn-container button",
)

# guess: Leave opens a menu whose "Leave Meeting" button really leaves.
LEAVE_CONFIRM_BUTTONS = (
    "button.leave-meeting-options__btn--danger",
    "button.leave-meeting-options__btn",
    'button:has-text("Leave Meeting")',
)

# Meetings for authenticated users only (PLATFORMS.md: "sign-in-required pages"); texts guessed.
SIGN_IN_TEXTS = (
    "This meeting is for authorized attendees only",
    "Sign in to join this meeting",
    "Only authenticated users can join this meeting",
    "This meeting requires authentication",
)

# guess: the preview's passcode field (`#input-for-pwd` in peers' bots).
PASSCODE_INPUTS = (
    "#input-for-pwd",
    'input[placeholder*="passcode" i]',
    'input[type="password"]',
)

# guess: what the preview says after Join with a wrong passcode.
PASSCODE_WRONG_TEXTS = (
    "Passcode wrong",
    "Incorrect passcode",
    "The passcode is incorrect",
)

TABLE = SelectorTable(
    # guess: `#input-for-name` on the current preview page, the others on older ones.
    name_input=(
        "#input-for-name",
        'input[placeholder="Your Name"]',
        "#inputname",
    ),
    # guess: the preview's buttons say what a click does ("Mute", "Stop Video").
    microphone_off=(
        '#preview-audio-control-button[aria-label="Mute"]',
        'button[aria-label="Mute"][id*="preview"]',
    ),
    camera_off=(
        '#preview-video-control-button[aria-label="Stop Video"]',
        'button[aria-label="Stop Video"][id*="preview"]',
    ),
    # PLATFORMS.md: a "Join" button; the classes and ids are guesses.
    join_buttons=(
        "button.preview-join-button",
        "#joinBtn",
        'button:text-is("Join")',
    ),
    leave_buttons=LEAVE_BUTTONS,
    # guess: the footer's controls; only two or more of them count as the call.
    in_call_indicators=(
        *LEAVE_BUTTONS,
        'button[aria-label*="participants list"]',
        'button[aria-label*="chat panel"]',
        "button.join-audio-container__btn",
        "button.send-video-container__btn",
    ),
    # guess (peers' public bots): the audio dialog's button, then the footer button that opens
    # it while the audio is not joined (its label turns to Mute / Unmute once joined).
    join_audio_buttons=(
        "button.join-audio-by-voip__join-btn",
        'button:has-text("Join Audio by Computer")',
        'button:has-text("Join with Computer Audio")',
    ),
    open_audio_buttons=(
        'button.join-audio-container__btn[aria-label*="join audio" i]',
        'button:text-is("Join Audio")',
    ),
    # guess (peers' public bots): the chat panel's box; Enter sends (no button needed).
    chat_open=('button[aria-label*="chat panel" i]', 'button[aria-label*="chat" i]'),
    chat_input=(
        '.chat-rtf-box__editor-outer [contenteditable="true"]',
        "textarea.chat-box__chat-textarea",
    ),
    chat_send=("button.chat-rtf-box__send",),
    # guess: the chat list's messages under a header naming the sender ("Me" on the bot's own).
    chat_message=".new-chat-message__text-content",
    chat_group=".new-chat-item__container",
    chat_author=".chat-item__sender",
    chat_own_authors=("Me", "You"),
    # guess: one `.video-avatar__avatar` per person in gallery view, labelled with the name.
    tile=".video-avatar__avatar",
    tile_id_attribute="aria-label",
    tile_name=(
        ".video-avatar__avatar-footer span",
        ".video-avatar__avatar-footer",
        ".video-avatar__avatar-name",
    ),
    # PLATFORMS.md: the speaker-highlight class on the video tile; the names are guesses.
    speaking_classes=(
        "video-avatar__avatar--active",
        "video-avatar__avatar--speaking",
        "video-avatar__avatar--talking",
    ),
    texts={
        # Both the host-not-started page and the waiting room keep the bot waiting.
        "lobby": (
            "Waiting for the host to start this meeting",
            "Waiting for the host to start the meeting",
            "Please wait, the meeting host will let you in soon",
            "Host has joined. We've let them know you're here",  # guess
        ),
        # guess: Zoom's wording when the host refuses a guest in the waiting room.
        "rejected": (
            "The host has denied your request to join",
            "The host has removed you from the waiting room",
            "You have been denied entry to this meeting",
        ),
        # guess
        "not_found": (
            "This meeting link is invalid",
            "Invalid meeting ID",
            "This meeting ID is not valid",
        ),
        # guess
        "lobby_timeout": (
            "The host did not admit you",
            "Your request to join has expired",
        ),
        "removed": (
            "You have been removed from this meeting",
            "You've been removed from this meeting",
            "The host has removed you from the meeting",  # guess
            "removed you from the meeting",  # guess
        ),
        "ended": (
            "This meeting has been ended by host",
            "This meeting has been ended by the host",
            "The meeting has ended",  # guess
            "Meeting has ended",  # guess
            "You left the meeting",  # guess
        ),
        # Not `classify` kinds: `ZoomAdapter.snapshot` turns them into dead ends.
        "sign_in": SIGN_IN_TEXTS,
        "passcode_wrong": PASSCODE_WRONG_TEXTS,
    },
)

SIGN_IN_DETAIL = "sign-in required"
PASSCODE_DETAIL = "the meeting refused the passcode"


def web_client_url(url: str) -> str | None:
    """The web client's URL for a Zoom invite link (`zoom.us/j/{id}?pwd=`); None otherwise.

    The invite page offers the desktop app; the web client is the path for a bot without an
    SDK token (PLATFORMS.md).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not (host == "zoom.us" or host.endswith(".zoom.us")) or parts.path.startswith("/wc/"):
        return None
    try:
        ref = parse_meeting_url(url)
    except InvalidMeeting:
        return None
    return zoom_web_client_url(ref.native_meeting_id, ref.passcode)


def _link_passcode(url: str) -> str:
    """The passcode the bot was given: the `pwd` of the link it opened."""
    return (parse_qs(urlsplit(url).query).get("pwd") or [""])[0]


class ZoomAdapter(PlatformAdapter):
    platform = "zoom"
    table = TABLE

    async def snapshot(self, page: Page) -> PageSnapshot:
        raw = await page.evaluate(SNAPSHOT_JS, self.table.for_page())
        snap = classify(raw, self.table)
        found = raw.get("found") or {}
        if snap.phase is Phase.IN_CALL:
            return snap
        # A guest can never get past either: dead ends like a missing meeting.
        for kind, detail in (("sign_in", SIGN_IN_DETAIL), ("passcode_wrong", PASSCODE_DETAIL)):
            if found.get(kind):
                return PageSnapshot(
                    Phase.NOT_FOUND,
                    f"{detail}: {found[kind]}",
                    snap.participants,
                    snap.indicators,
                    snap.clock,
                )
        return snap

    async def join(self, page: Page, *, bot_name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        client_url = web_client_url(page.url)
        if client_url is not None:
            await page.goto(client_url, timeout=timeout_s * 1000)
        while True:
            snapshot = await self.snapshot(page)
            detail = snapshot.detail or ""
            if snapshot.phase is Phase.NOT_FOUND and detail.startswith(SIGN_IN_DETAIL):
                raise JoinError(
                    "the Zoom meeting requires signing in, which a guest bot cannot do "
                    f"(the page says: {detail.removeprefix(SIGN_IN_DETAIL + ': ')})",
                    phase=Phase.NOT_FOUND,
                )
            if snapshot.phase in (Phase.NOT_FOUND, Phase.REJECTED, Phase.ENDED, Phase.REMOVED):
                raise JoinError(f"the meeting page says: {snapshot.detail}", phase=snapshot.phase)
            if snapshot.phase is Phase.PREJOIN:
                break
            if time.monotonic() > deadline:
                raise JoinError("no name field or join button on the meeting page")
            await asyncio.sleep(0.2)
        passcode_selector = await self._first_visible(page, PASSCODE_INPUTS)
        if passcode_selector is not None:
            passcode = _link_passcode(page.url)
            if not passcode:
                raise JoinError(
                    "the Zoom meeting asks for a passcode and the bot was given none "
                    "(request it with `passcode`, or a link with `pwd=`)",
                    phase=Phase.NOT_FOUND,
                )
            await page.locator(passcode_selector).first.fill(passcode)
        await self._fill_form_and_join(page, bot_name=bot_name, deadline=deadline)

    async def leave(self, page: Page, *, timeout_s: float = 5.0) -> bool:
        """Leave, then confirm "Leave Meeting" in the menu the Leave button opens."""
        leave_selector = await self._first_visible(page, self.table.leave_buttons)
        if leave_selector is None:
            return False
        button = page.locator(leave_selector).first
        await button.click(timeout=timeout_s * 1000)
        deadline = time.monotonic() + timeout_s
        confirmed = False
        while time.monotonic() < deadline:
            confirm = None if confirmed else await self._first_visible(page, LEAVE_CONFIRM_BUTTONS)
            if confirm is not None:
                await page.locator(confirm).first.click(timeout=timeout_s * 1000)
                confirmed = True
            if not await button.count() or not await button.is_visible():
                return True
            await asyncio.sleep(0.1)
        return False
