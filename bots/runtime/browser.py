"""The bot's browser: one Chromium per worker process, shared by its bots (a context each).

A bot worker runs Celery with a thread pool (`-P threads -c N`, N = bots per host). Each task
thread drives its own bot, but every browser call runs on ONE asyncio loop in a background
thread of the process, which owns the Playwright driver and the browser: one driver and one
browser per host instead of one per bot (measured in BROWSER.md: +40 MB per extra bot instead of
+125-210 MB). A crashed page takes down only its own context; a crashed browser is relaunched
for the next bot (or the bot rejoining), and a dead Playwright driver is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import playwright
from django.conf import settings
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--in-process-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Meeting pages play audio before any user gesture of ours reaches them.
    "--autoplay-policy=no-user-gesture-required",
    # A guest has no camera or microphone; answer permission prompts without a dialog.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
)
# The audio service keeps its own process (`../shared/BROWSER.md` lists running it in the browser
# process as -18 MB): there, beside every bot's page calls, the pages' audio clocks lost time
# under load. Four meetings on 2 cores (bench/latency.py, 2026-12-07): the capture clock fell
# behind the wall clock by 0.6-4 % in process (four runs) and 0.1-0.7 % out of it (two), for
# +9-11 MB PSS per browser (bench/bot_join.py, 1 and 4 bots). A clock losing time delays every
# word by as much on a real call (the platform's audio waits in the page's WebRTC buffers, or is
# time-squeezed).
OUR_DISABLED_FEATURES = (
    # A bot has no local IP to hide; mDNS-named ICE candidates need multicast name resolution,
    # which containers often lack (WebRTC then never connects and the capture hears silence).
    "WebRtcHideLocalIpsWithMdns",
)


def playwright_disabled_features() -> list[str]:
    """The `--disable-features` list the installed Playwright adds to every Chromium launch.

    A second `--disable-features` flag silently replaces the first, so ours must be merged into
    Playwright's and Playwright's own flag dropped. Read from the installed driver so that an
    upgrade cannot silently diverge; empty (with a warning) if the driver's layout changed.
    """
    package = Path(playwright.__file__).parent / "driver" / "package" / "lib"
    for path in sorted(package.glob("**/*.js")):
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        match = re.search(r"disabledFeatures\s*=\s*\[(.*?)\]", text, re.DOTALL)
        if match and "--disable-features=" in text:
            body = re.sub(r"//[^\n]*", "", match.group(1))
            return re.findall(r'"([A-Za-z0-9_]+)"', body)
    logger.warning("could not read Playwright's disabled Chromium features; not merging them")
    return []


def desktop_user_agent(version: str) -> str:
    """The user agent of a desktop Chrome of the same major version.

    The headless shell says "HeadlessChrome", which platforms may treat as a robot and serve a
    different page; the engine underneath is the same Chromium.
    """
    major = version.split(".", 1)[0] or "0"
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )


def launch_options() -> dict[str, Any]:
    """Keyword arguments for `chromium.launch` (the binary in settings.BOT_BROWSER)."""
    theirs = playwright_disabled_features()
    merged = list(dict.fromkeys([*theirs, *OUR_DISABLED_FEATURES]))
    options: dict[str, Any] = {
        "executable_path": settings.BOT_BROWSER,
        "headless": True,
        "args": [*CHROMIUM_ARGS, f"--disable-features={','.join(merged)}"],
    }
    if theirs:
        options["ignore_default_args"] = [f"--disable-features={','.join(theirs)}"]
    return options


class BrowserHost:
    """The process's asyncio loop thread, Playwright driver and shared browser."""

    def __init__(self, *, extra_args: tuple[str, ...] = ()) -> None:
        self._extra_args = extra_args
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="bot-browser", daemon=True
        )
        self._thread.start()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launch_lock: asyncio.Lock | None = None

    def run(self, coro: Coroutine[Any, Any, T], *, timeout_s: float | None = 60) -> T:
        """Run `coro` on the browser loop from a bot thread and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    async def browser(self) -> Browser:
        """The shared browser, launched on first use and relaunched after a crash."""
        if self._launch_lock is None:
            self._launch_lock = asyncio.Lock()
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            options = launch_options()
            options["args"] = [*options["args"], *self._extra_args]
            logger.info("launching %s", options["executable_path"])
            self._browser = await self._playwright.chromium.launch(**options)
            return self._browser

    async def new_context(self, **options: Any) -> BrowserContext:
        """A fresh context (one per bot) that presents itself as a regular desktop Chrome.

        Where the Playwright driver died (killed, out of memory), its browser went with it but
        still reads as connected: the driver and the browser are started again, once.
        """
        browser = await self.browser()
        driver = self._playwright
        options.setdefault("user_agent", desktop_user_agent(browser.version))
        try:
            return await browser.new_context(**options)
        except PlaywrightError:
            if driver is None or await _driver_answers(driver):
                raise
        assert self._launch_lock is not None
        async with self._launch_lock:
            if self._playwright is driver:  # not started again by another bot meanwhile
                logger.warning("the Playwright driver is gone; starting it and the browser again")
                self._browser = self._playwright = None
                with contextlib.suppress(Exception):  # its connection is closed already
                    await asyncio.wait_for(driver.stop(), 5)
        browser = await self.browser()
        return await browser.new_context(**options)

    async def _close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = None
        self._playwright = None

    def shutdown(self) -> None:
        """Close the browser and the driver and stop the loop (worker shutdown, tests)."""
        try:
            self.run(self._close(), timeout_s=15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


async def _driver_answers(driver: Playwright) -> bool:
    """Whether a Playwright driver process is there: a request context lives in it alone."""
    try:
        probe = await driver.request.new_context()
        await probe.dispose()
    except PlaywrightError:
        return False
    return True


_hosts: dict[int, BrowserHost] = {}
_hosts_lock = threading.Lock()


def get_host() -> BrowserHost:
    """This process's browser host (a forked child builds its own; threads share one)."""
    pid = os.getpid()
    with _hosts_lock:
        host = _hosts.get(pid)
        if host is None:
            host = _hosts[pid] = BrowserHost()
        return host


def shutdown_all() -> None:
    """Shut down this process's browser host, if it has one."""
    with _hosts_lock:
        host = _hosts.pop(os.getpid(), None)
    if host is not None:
        try:
            host.shutdown()
        except Exception:
            logger.exception("closing the shared browser failed")
