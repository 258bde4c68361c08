"""The bot's browser tab: which URL it opens, and the page it joins from.

Each (re)join gets a fresh context on the shared browser with the capture script and its
binding, which hands every audio chunk to the bot's pump queue; the tab notes why its page was
lost (crashed, or closed with its browser), leaves the call and closes, and keeps a screenshot
and the page's text as evidence of a failed join.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import queue
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone
from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from bots.adapters.base import PlatformAdapter
from bots.runtime.browser import BrowserHost
from bots.runtime.outcome import BotFailure
from meetings.models import Meeting

logger = logging.getLogger(__name__)

CAPTURE_JS = Path(__file__).resolve().parent.parent / "static" / "bots" / "capture.js"
BINDING = "__vexaAudioChunk"
NAVIGATION_TIMEOUT_S = 30.0
LEAVE_TIMEOUT_S = 5.0

# One fresh context per bot. CSP bypass lets the capture load its AudioWorklet from a blob:
# URL on pages whose policy would refuse it.
CONTEXT_OPTIONS: dict[str, Any] = {
    "bypass_csp": True,
    "viewport": {"width": 1280, "height": 720},
    "permissions": ["microphone", "camera"],
}

SIMULATOR_PATHS = {
    "google_meet": "/simulator/google_meet/{native_meeting_id}",
    "teams": "/simulator/teams/{native_meeting_id}?p={passcode}",
    "zoom": "/simulator/zoom/{native_meeting_id}?pwd={passcode}",
}


def meeting_target_url(meeting: Meeting) -> str:
    """The URL the bot opens: the simulator's, a configured template's, or the real one."""
    passcode = str((meeting.bot_config or {}).get("passcode") or "")
    values = {
        "native_meeting_id": quote(meeting.native_meeting_id, safe=""),
        "passcode": quote(passcode, safe=""),
        "platform": meeting.platform,
    }
    configured = settings.PLATFORM_URLS
    if configured == "simulator":
        template = SIMULATOR_PATHS.get(
            meeting.platform, "/simulator/{platform}/{native_meeting_id}"
        )
        return settings.PUBLIC_BASE_URL + template.format(**values)
    if isinstance(configured, dict) and meeting.platform in configured:
        return configured[meeting.platform].format(**values)
    if meeting.constructed_meeting_url:
        return meeting.constructed_meeting_url
    raise BotFailure("joining", f"no meeting URL for platform {meeting.platform}")


class MeetingTab:
    """One bot's page. Its methods run on the browser loop (`BrowserHost.run`)."""

    def __init__(
        self,
        host: BrowserHost,
        meeting_id: int,
        chunks: queue.SimpleQueue[tuple[int, bytes, float] | None],
    ) -> None:
        self.host = host
        self.meeting_id = meeting_id
        self.chunks = chunks
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        # Why the page is gone (crashed, or closed with its browser); set on the browser loop.
        self.lost: str | None = None
        # Samples on the session's clock before this page's capture started: a rejoin's new
        # page counts from 0, and its chunks are moved by this much.
        self.capture_offset = 0

    async def open(self, url: str, *, stage: str) -> None:
        """A fresh context and page at `url` (`BotFailure` at `stage` if it does not load)."""
        context = await self.host.new_context(**CONTEXT_OPTIONS)
        self.context = context
        chunks = self.chunks

        def on_chunk(_source: Any, b64: str, first_sample: int) -> None:
            # Runs on the browser loop: decode and hand over, nothing slow here. The offset is
            # set before this page's capture starts, and the lost page sends nothing after it.
            first = self.capture_offset + int(first_sample)
            chunks.put((first, base64.b64decode(b64), time.time()))

        await context.expose_binding(BINDING, on_chunk)
        await context.add_init_script(path=str(CAPTURE_JS))
        page = await context.new_page()
        self.page = page
        self.lost = None

        def on_crash(_page: Page) -> None:
            self.lost = "the meeting page crashed"

        def on_close(closed: Page) -> None:
            # Closed by us after `self.page` moved on; otherwise its browser went away.
            if self.page is closed:
                self.lost = "the meeting page closed (its browser exited)"

        page.on("crash", on_crash)
        page.on("close", on_close)
        try:
            await page.goto(url, wait_until="domcontentloaded", timeout=NAVIGATION_TIMEOUT_S * 1000)
        except PlaywrightError as exc:
            raise BotFailure(stage, f"could not open {url}: {exc}", evidence=True) from exc

    async def discard(self) -> None:
        """Close a lost page's context without asking the page anything (it may be hung)."""
        context = self.context
        self.page = self.context = None
        if context is not None:
            with contextlib.suppress(PlaywrightError):
                await context.close()

    async def leave_and_close(self, adapter: PlatformAdapter | None, *, in_call: bool) -> None:
        """Stop the capture, leave the call (`in_call`) and close the context."""
        if self.page is not None and not self.page.is_closed():
            with contextlib.suppress(PlaywrightError):
                stats = await self.page.evaluate(
                    "window.__vexaCapture && window.__vexaCapture.stats()"
                )
                logger.info("meeting %s: capture at the end: %s", self.meeting_id, stats)
            with contextlib.suppress(PlaywrightError):
                await self.page.evaluate("window.__vexaCapture && window.__vexaCapture.stop()")
            if in_call and adapter is not None:
                try:
                    left = await adapter.leave(self.page, timeout_s=LEAVE_TIMEOUT_S)
                    if not left:
                        logger.info("meeting %s: the leave was not confirmed", self.meeting_id)
                except PlaywrightError:
                    logger.info("meeting %s: leave button not clickable", self.meeting_id)
        if self.context is not None:
            with contextlib.suppress(PlaywrightError):
                await self.context.close()
        self.context = None
        self.page = None

    async def evidence(self) -> dict[str, Any]:
        """A screenshot and the page's text, kept with a failed join."""
        if self.page is None or self.page.is_closed():
            return {}
        folder = Path(settings.BOT_EVIDENCE_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        path = folder / f"meeting-{self.meeting_id}-{stamp}.png"
        evidence: dict[str, Any] = {"url": self.page.url}
        try:
            await self.page.screenshot(path=str(path), timeout=5000)
            evidence["screenshot"] = str(path)
        except PlaywrightError:
            pass
        with contextlib.suppress(PlaywrightError):
            evidence["page_text"] = (await self.page.inner_text("body", timeout=2000))[:2000]
        return evidence
