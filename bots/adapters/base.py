"""The platform adapter interface: what a bot needs to know about one meeting platform's page.

An adapter keeps its selectors and texts in ONE table (data, not code spread around), tries
several candidates for each, and turns what the page shows into a `PageSnapshot` with a
`Phase`. The bot runtime decides what a phase means for the meeting's lifecycle; adapters never
touch the database.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from playwright.async_api import Page

# One page scan: texts found, in-call indicators, participant tiles, the capture clock.
SNAPSHOT_JS = """
(table) => {
  const norm = (s) => (s || "")
    .replace(/[\\u2018\\u2019\\u02bc]/g, "'")
    .replace(/\\u2026/g, "...")
    .replace(/\\s+/g, " ")
    .toLowerCase();
  const visible = (el) => {
    if (!el || !el.isConnected) return false;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") return false;
    const rect = el.getBoundingClientRect();
    return rect.width > 0 && rect.height > 0;
  };
  const anyVisible = (selector) => {
    try {
      return Array.from(document.querySelectorAll(selector)).some(visible);
    } catch (_err) {
      return false;
    }
  };
  // What people wrote (chat messages, caption rows) is not the page speaking: a participant
  // typing "Asking to be let in" must not send the bot back to the waiting room. Only what is
  // long enough to hold a text looked for goes ("ok" would cut every "ok" out of the page).
  let text = norm(document.body ? document.body.innerText : "");
  const shortest = Math.min(...Object.values(table.texts).flat().map((c) => norm(c).length));
  for (const selector of [table.chat_message, table.caption_text]) {
    if (!selector) continue;
    for (const node of document.querySelectorAll(selector)) {
      const said = norm(node.textContent).trim();
      if (said.length >= shortest) text = text.split(said).join(" ");
    }
  }
  const found = {};
  for (const [kind, candidates] of Object.entries(table.texts)) {
    found[kind] = candidates.find((candidate) => text.includes(norm(candidate))) || null;
  }
  const indicators = table.in_call_indicators.filter(anyVisible);
  const participants = [];
  const seen = new Set();
  for (const tile of document.querySelectorAll(table.tile)) {
    const id = tile.getAttribute(table.tile_id_attribute);
    if (!id || seen.has(id)) continue;
    seen.add(id);
    let name = "";
    for (const selector of table.tile_name) {
      const node = tile.querySelector(selector);
      if (node && node.textContent.trim()) {
        name = node.textContent.trim();
        break;
      }
    }
    const speaking = table.speaking_classes.some(
      (cls) => tile.classList.contains(cls) || tile.querySelector("." + cls) !== null,
    );
    participants.push({ participant_id: id, name: name, speaking: speaking });
  }
  // A visible pre-join button (Teams' "Join now") means the call has not started, whatever
  // else the page shows.
  const joinButton = table.prejoin_button_texts.length > 0 && Array.from(
    document.querySelectorAll('button, [role="button"]'),
  ).some((b) => visible(b) && table.prejoin_button_texts.includes(norm(b.innerText).trim()));
  // The last `limit` shown texts of `textSelector`, each with its author: the `authorSelector`
  // inside the text's `groupSelector` (one header may name a run of messages; a group without
  // one has no author), or without a group, in the nearest element above the text that holds
  // one (further up is the whole list). Live captions' rows; the chat's messages.
  const authored = (textSelector, authorSelector, groupSelector, limit) => {
    const rows = [];
    if (!textSelector) return rows;
    for (const node of Array.from(document.querySelectorAll(textSelector)).slice(-limit)) {
      if (!visible(node)) continue;
      let author = null;
      if (groupSelector) {
        const group = node.closest(groupSelector);
        author = group ? group.querySelector(authorSelector) : null;
      } else {
        let entry = node.parentElement;
        for (let i = 0; i < 6 && entry && !author; i++) {
          author = entry.querySelector(authorSelector);
          if (!author) entry = entry.parentElement;
        }
      }
      rows.push({ author: author ? author.textContent.trim() : "", text: node.textContent.trim() });
    }
    return rows;
  };
  const capture = window.__vexaCapture;
  return {
    captions: authored(table.caption_text, table.caption_author, "", 4),
    chat: authored(table.chat_message, table.chat_author, table.chat_group, 50),
    found: found,
    indicators: indicators,
    name_field: table.name_input.some(anyVisible),
    join_button: joinButton,
    participants: participants,
    clock: capture ? capture.now() : 0,
  };
}
"""


# After a click on the chat's control, how long its panel may take to show its message box.
CHAT_PANEL_WAIT_S = 1.0


class ChatError(Exception):
    """The bot could not post in the meeting's chat; the message says why."""


class Phase(StrEnum):
    PREJOIN = "prejoin"
    LOBBY = "lobby"
    IN_CALL = "in_call"
    REJECTED = "rejected"
    LOBBY_TIMEOUT = "lobby_timeout"
    NOT_FOUND = "not_found"
    REMOVED = "removed"
    ENDED = "ended"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PageParticipant:
    participant_id: str
    name: str
    speaking: bool


@dataclass(frozen=True)
class PageSnapshot:
    """What the page shows now; `clock` is the capture clock (session seconds) at the scan."""

    phase: Phase
    detail: str | None = None
    participants: tuple[PageParticipant, ...] = ()
    indicators: tuple[str, ...] = ()
    clock: float = 0.0
    # Live caption rows shown now, oldest first: (author, text).
    captions: tuple[tuple[str, str], ...] = ()
    # The chat's last messages shown now (its panel open), oldest first: (sender, text).
    chat: tuple[tuple[str, str], ...] = ()

    def others(self, bot_name: str) -> list[PageParticipant]:
        """Participants other than the bot itself (its own tile carries its name)."""
        return [p for p in self.participants if p.name != bot_name]


@dataclass(frozen=True)
class SelectorTable:
    """One platform's selectors and texts. Candidates are tried in order."""

    name_input: tuple[str, ...]
    microphone_off: tuple[str, ...]
    camera_off: tuple[str, ...]
    join_buttons: tuple[str, ...]
    leave_buttons: tuple[str, ...]
    in_call_indicators: tuple[str, ...]
    tile: str
    tile_id_attribute: str
    tile_name: tuple[str, ...]
    speaking_classes: tuple[str, ...]
    # kind → candidate texts; kinds: lobby, rejected, lobby_timeout, not_found, removed, ended
    texts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # How many distinct in-call indicators count as admitted (one alone gave false positives).
    min_in_call_indicators: int = 2
    # Labels of a pre-join button (exact, case-insensitive): while one is visible the bot is not
    # in the call (Teams: "Join now"). Empty: not checked.
    prejoin_button_texts: tuple[str, ...] = ()
    # Optional steps before the pre-join form (Teams: "Continue on this browser"), and the
    # audio choice to make on it (Teams: "Computer audio"); empty where a platform has none.
    continue_buttons: tuple[str, ...] = ()
    audio_option: tuple[str, ...] = ()
    # In the call the audio may still need joining (Zoom's "Join Audio by Computer"): the
    # dialog's button that joins it, and the control that opens that dialog while the audio is
    # not joined. Empty where a platform connects the audio on entry.
    join_audio_buttons: tuple[str, ...] = ()
    open_audio_buttons: tuple[str, ...] = ()
    # Live captions (Teams), a speaker source for people without a visible tile: the menu path
    # that turns them on (each step's candidates), what shows while they are on, and a caption
    # row's text and author. Empty where a platform has none.
    captions_steps: tuple[tuple[str, ...], ...] = ()
    captions_on: tuple[str, ...] = ()
    caption_text: str = ""
    caption_author: str = ""
    # The meeting's chat: the control that opens its panel, the message box, the send button
    # (Enter where there is none). Empty where the bot cannot post.
    chat_open: tuple[str, ...] = ()
    chat_input: tuple[str, ...] = ()
    chat_send: tuple[str, ...] = ()
    # The chat's messages as its open panel lists them: each message's text, the group it is
    # in (a run of one sender's messages under one header), the sender's name in that header,
    # and the names the panel gives the bot's own messages (a group without a name is the
    # bot's own as well).
    chat_message: str = ""
    chat_group: str = ""
    chat_author: str = ""
    chat_own_authors: tuple[str, ...] = ()

    def for_page(self) -> dict[str, Any]:
        return {
            "texts": {kind: list(values) for kind, values in self.texts.items()},
            "in_call_indicators": list(self.in_call_indicators),
            "name_input": list(self.name_input),
            "tile": self.tile,
            "tile_id_attribute": self.tile_id_attribute,
            "tile_name": list(self.tile_name),
            "speaking_classes": list(self.speaking_classes),
            "prejoin_button_texts": [text.lower() for text in self.prejoin_button_texts],
            "caption_text": self.caption_text,
            "caption_author": self.caption_author,
            "chat_message": self.chat_message,
            "chat_group": self.chat_group,
            "chat_author": self.chat_author,
        }


class JoinError(Exception):
    """The bot could not get to the join button (or past it); `phase` says what it saw."""

    def __init__(self, message: str, *, phase: Phase = Phase.UNKNOWN) -> None:
        super().__init__(message)
        self.phase = phase


def classify(raw: dict[str, Any], table: SelectorTable) -> PageSnapshot:
    """Turn a raw page scan into a snapshot.

    The call counts only with enough in-call indicators and NO waiting-room text (the peers'
    top complaint is a lobby taken for admission); then dead ends; then the waiting room.
    """
    found: dict[str, str | None] = raw.get("found") or {}
    participants = tuple(
        PageParticipant(
            participant_id=str(p["participant_id"]),
            name=str(p["name"]),
            speaking=bool(p["speaking"]),
        )
        for p in raw.get("participants") or []
    )
    indicators = tuple(raw.get("indicators") or [])
    clock = float(raw.get("clock") or 0.0)

    def rows(key: str) -> tuple[tuple[str, str], ...]:
        return tuple(
            (str(row.get("author") or ""), str(row.get("text") or "")) for row in raw.get(key) or []
        )

    captions, chat = rows("captions"), rows("chat")

    def snap(phase: Phase, detail: str | None = None) -> PageSnapshot:
        return PageSnapshot(phase, detail, participants, indicators, clock, captions, chat)

    # While the call UI is up, dead-end texts are ignored: a chat message saying "meeting
    # ended" must not end the bot. Platforms replace the whole call UI when it is really over.
    in_call = len(indicators) >= table.min_in_call_indicators
    if in_call and not found.get("lobby") and not raw.get("join_button"):
        return snap(Phase.IN_CALL, ", ".join(indicators))
    for kind, phase in (
        ("removed", Phase.REMOVED),
        ("ended", Phase.ENDED),
        ("rejected", Phase.REJECTED),
        ("not_found", Phase.NOT_FOUND),
        ("lobby_timeout", Phase.LOBBY_TIMEOUT),
    ):
        if found.get(kind):
            return snap(phase, found[kind])
    if found.get("lobby"):
        return snap(Phase.LOBBY, found["lobby"])
    if raw.get("name_field") or raw.get("join_button"):
        return snap(Phase.PREJOIN)
    return snap(Phase.UNKNOWN)


class PlatformAdapter(ABC):
    """Join, watch and leave one platform's meeting page."""

    platform: str
    table: SelectorTable

    async def snapshot(self, page: Page) -> PageSnapshot:
        raw = await page.evaluate(SNAPSHOT_JS, self.table.for_page())
        return classify(raw, self.table)

    @abstractmethod
    async def join(self, page: Page, *, bot_name: str, timeout_s: float) -> None:
        """From the opened meeting URL to a clicked join button; raises `JoinError`."""

    async def leave(self, page: Page, *, timeout_s: float = 5.0) -> bool:
        """Click the leave button if there is one; True when the call UI went away."""
        for selector in self.table.leave_buttons:
            button = page.locator(selector).first
            if await button.count() and await button.is_visible():
                await button.click(timeout=timeout_s * 1000)
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    if not await button.count() or not await button.is_visible():
                        return True
                    await asyncio.sleep(0.1)
                return False
        return False

    async def join_audio(self, page: Page) -> bool:
        """One step towards the call's audio where a guest can be in the call without it;
        True once nothing is left to click. The caller re-checks on a later tick: a click
        opens a dialog, or the joined state shows a moment after."""
        if not self.table.join_audio_buttons:
            return True
        join_selector = await self._first_visible(page, self.table.join_audio_buttons)
        if join_selector is not None:
            button = page.locator(join_selector).first
            # A disabled button is waited out: it may come alive, and the caller gives up in time.
            if await button.is_enabled():
                await button.click(timeout=2000)
            return False
        open_selector = await self._first_visible(page, self.table.open_audio_buttons)
        if open_selector is not None:
            await page.locator(open_selector).first.click(timeout=2000)
            return False
        return True

    async def turn_on_captions(self, page: Page) -> bool:
        """One step towards live captions; True once they are on (or where there are none).
        The deepest step shown is clicked first: a menu an earlier click opened."""
        if not self.table.captions_steps:
            return True
        if await self._first_visible(page, self.table.captions_on) is not None:
            return True
        for candidates in reversed(self.table.captions_steps):
            selector = await self._first_visible(page, candidates)
            if selector is not None:
                await page.locator(selector).first.click(timeout=2000)
                return False
        return False

    async def open_chat(self, page: Page) -> bool:
        """One step towards the chat's panel open, so that its messages can be read; True once
        it is (or where the platform's messages cannot be read)."""
        if not self.table.chat_message:
            return True
        return await self._chat_box(page, wait_s=0.0) is not None

    async def send_chat(self, page: Page, text: str, *, timeout_s: float = 5.0) -> None:
        """Post `text` in the meeting's chat, opening its panel first if it is closed; raises
        `ChatError` when the platform shows no message box or the text stayed unsent."""
        if not self.table.chat_input:
            raise ChatError("this platform's chat is not supported")
        deadline = time.monotonic() + timeout_s
        while (box := await self._chat_box(page, wait_s=CHAT_PANEL_WAIT_S)) is None:
            if time.monotonic() > deadline:
                raise ChatError("the meeting shows no chat message box")
            await asyncio.sleep(0.1)
        field = page.locator(box).first
        await field.fill(text, timeout=2000)
        send = await self._first_visible(page, self.table.chat_send)
        if send is not None:
            await page.locator(send).first.click(timeout=2000)
        else:
            await field.press("Enter", timeout=2000)
        # A posted message leaves the box empty (a disabled chat keeps it).
        while await field.evaluate("e => ('value' in e ? e.value : e.innerText).trim()"):
            if time.monotonic() > deadline:
                raise ChatError("the message stayed in the chat box unsent")
            await asyncio.sleep(0.1)

    async def _chat_box(self, page: Page, *, wait_s: float) -> str | None:
        """The chat's message box where its panel is open; else a click on the control that
        opens it, and up to `wait_s` for the box. Callers click again only after the panel
        had time to open: a second click too soon would close it."""
        box = await self._first_visible(page, self.table.chat_input)
        if box is not None:
            return box
        opener = await self._first_visible(page, self.table.chat_open)
        if opener is None:
            return None
        await page.locator(opener).first.click(timeout=2000)
        deadline = time.monotonic() + wait_s
        while (box := await self._first_visible(page, self.table.chat_input)) is None:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        return box

    async def _fill_form_and_join(self, page: Page, *, bot_name: str, deadline: float) -> None:
        """The pre-join form every platform has: name, audio choice, mic/camera off, join."""
        name_selector = await self._first_visible(page, self.table.name_input)
        if name_selector is not None:
            await page.locator(name_selector).first.fill(bot_name)
        # Teams' "Computer audio" receives the meeting's sound (the other choices join without).
        audio_selector = await self._first_visible(page, self.table.audio_option)
        if audio_selector is not None:
            await page.locator(audio_selector).first.click(timeout=2000)
        # A guest bot has nothing to say or show; a missing toggle is not worth failing over.
        for candidates in (self.table.microphone_off, self.table.camera_off):
            selector = await self._first_visible(page, candidates)
            if selector is not None:
                await page.locator(selector).first.click(timeout=2000)
        while True:
            join_selector = await self._first_visible(page, self.table.join_buttons)
            if join_selector is not None and await page.locator(join_selector).first.is_enabled():
                break
            if time.monotonic() > deadline:
                raise JoinError("the join button did not become clickable")
            await asyncio.sleep(0.1)
        await page.locator(join_selector).first.click(timeout=5000)

    async def _first_visible(self, page: Page, selectors: tuple[str, ...]) -> str | None:
        for selector in selectors:
            locator = page.locator(selector).first
            if await locator.count() and await locator.is_visible():
                return selector
        return None
