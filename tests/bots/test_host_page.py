"""The simulator's host control page in real Chromium: a person admits and removes the bot."""

from __future__ import annotations

from typing import Any

from django.test import Client
from playwright.async_api import Page

from accounts.models import User
from bots.adapters.base import Phase
from bots.runtime.browser import BrowserHost
from tests import processes
from tests.bots.conftest import load_scenario, meet_id, wait_for
from tests.bots.test_page_scripts import BotPage


async def open_host_page(browser: BrowserHost, url: str, session: str) -> Page:
    context = await browser.new_context()
    origin = url.split("/simulator/", 1)[0]
    await context.add_cookies([{"name": "sessionid", "value": session, "url": origin + "/"}])
    page = await context.new_page()
    await page.goto(url)
    return page


async def click(page: Page, label: str) -> None:
    await page.get_by_role("button", name=label).first.click(timeout=10_000)


def test_a_staff_member_admits_and_removes_the_bot_from_the_host_page(
    sim_server: str, host: BrowserHost, transactional_db: Any, settings: Any
) -> None:
    # The session must verify under the server's key (it signs the session's auth hash).
    settings.SECRET_KEY = processes.product_env()["SECRET_KEY"]
    native = meet_id()
    load_scenario(sim_server, native_meeting_id=native, admit="manual")
    staff = User.objects.create_user("host@example.com", password="pw-123456", is_staff=True)
    client = Client()
    client.force_login(staff)
    bot = BotPage(host, f"{sim_server}/simulator/google_meet/{native}")
    try:
        bot.join()
        bot.wait_phase(Phase.LOBBY)
        page = host.run(
            open_host_page(
                host,
                f"{sim_server}/simulator/host/google_meet/{native}",
                client.cookies["sessionid"].value,
            )
        )
        wait_for(
            lambda: "Vexa Bot\twaiting" in host.run(page.inner_text("#guests")),
            timeout_s=5,
            what="the waiting bot on the host page",
        )

        host.run(click(page, "Admit"))
        bot.wait_phase(Phase.IN_CALL)
        assert bot.page is not None
        host.run(bot.adapter.send_chat(bot.page, "Hello <host>"))
        wait_for(
            lambda: host.run(page.inner_text("#chat")) == "Vexa Bot: Hello <host>",
            timeout_s=5,
            what="the bot's chat message on the host page",
        )
        host.run(click(page, "Remove"))
        bot.wait_phase(Phase.REMOVED)

        wait_for(
            lambda: "removed" in host.run(page.inner_text("#guests")),
            timeout_s=5,
            what="the host page to show the removal",
        )
        host.run(page.context.close())
    finally:
        bot.close()
