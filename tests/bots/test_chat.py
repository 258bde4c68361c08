"""The meeting's chat: the bot posts in it and reads what participants post, each platform's
adapter against the simulator's chat panel in real Chromium, and the API that asks for it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from bots import services as bot_services
from bots.adapters import adapter_for
from bots.adapters.base import ChatError, Phase
from bots.runtime.browser import BrowserHost
from bots.runtime.chat import ChatReader
from meetings import lifecycle
from meetings.models import BotChatMessage, MeetingStatus
from tests.bots.conftest import host_state, load_scenario, meet_id, wait_for
from tests.bots.test_page_scripts import BotPage
from tests.bots.test_teams import PASSCODE as TEAMS_PASSCODE
from tests.bots.test_teams import teams_id
from tests.bots.test_zoom import PASSCODE as ZOOM_PASSCODE
from tests.bots.test_zoom import zoom_id
from tests.conftest import api_client
from tests.meetings.builders import meeting_in
from transcripts import realtime

PAGES = {
    "google_meet": (meet_id, "/simulator/google_meet/{native}"),
    "teams": (teams_id, "/simulator/teams/{native}?p=" + TEAMS_PASSCODE),
    "zoom": (zoom_id, "/simulator/zoom/{native}?pwd=" + ZOOM_PASSCODE),
}


@pytest.mark.parametrize("platform", list(PAGES))
def test_the_bot_posts_in_and_reads_each_platforms_chat_opening_its_panel(
    sim_server: str, host: BrowserHost, pages: list[BotPage], platform: str
) -> None:
    new_id, path = PAGES[platform]
    native = new_id()
    adapter = adapter_for(platform)
    assert adapter is not None
    # Bob quotes the waiting room's words: what people write is not the page speaking.
    lobby = adapter.table.texts["lobby"][0]
    scenario: dict[str, Any] = {
        "variant": "join_now",
        "participants": [
            {"name": "Alice", "chat": [{"at_s": 0, "text": "Agenda: budget, then hiring"}]},
            {"name": "Bob", "chat": [{"at_s": 0.2, "text": lobby}, {"at_s": 0.3, "text": "+1"}]},
        ],
    }
    if platform == "teams":
        scenario["continue_step"] = False
    load_scenario(sim_server, platform=platform, native_meeting_id=native, **scenario)
    page = BotPage(host, sim_server + path.format(native=native), adapter=adapter)
    pages.append(page)
    tab = page.page
    assert tab is not None

    # Before the call there is no chat to post in: a clear reason, not a hang.
    with pytest.raises(ChatError, match="no chat message box"):
        host.run(adapter.send_chat(tab, "too early", timeout_s=1))
    page.join()
    page.wait_phase(Phase.IN_CALL)
    wait_for(
        lambda: len(host_state(sim_server, native, platform=platform)["chat"]) == 3,
        timeout_s=15,
        what="the participants' messages",
    )
    # The page has them in its closed panel, which shows none: posting opens it, and reading
    # finds it open.
    count = "(selector) => document.querySelectorAll(selector).length"
    wait_for(
        lambda: page.evaluate(count, adapter.table.chat_message) == 3,
        timeout_s=5,
        what="the page to list them",
    )
    assert page.snapshot().chat == ()
    host.run(adapter.send_chat(tab, "This call is transcribed by Vexa Bot."))
    assert host.run(adapter.open_chat(tab))
    host.run(adapter.send_chat(tab, "Ask me for the notes."))

    chat = host_state(sim_server, native, platform=platform)["chat"]
    assert [(m["sender"], m["text"]) for m in chat] == [
        ("Alice", "Agenda: budget, then hiring"),
        ("Bob", lobby),
        ("Bob", "+1"),
        ("Vexa Bot", "This call is transcribed by Vexa Bot."),
        ("Vexa Bot", "Ask me for the notes."),
    ]
    # The panel lists them with their senders (one header over Bob's two, and over the bot's
    # own, which the platform names its own way); only the participants' are read.
    rows = wait_for(
        lambda: rows if len(rows := page.snapshot().chat) == 5 else None,
        timeout_s=5,
        what="the chat's rows",
    )
    assert [text for _sender, text in rows] == [m["text"] for m in chat]
    own = {"Vexa Bot", *adapter.table.chat_own_authors}
    assert ChatReader().observe(rows, own=own) == [
        ("Alice", "Agenda: budget, then hiring"),
        ("Bob", lobby),
        ("Bob", "+1"),
    ]
    # Still in the call: posting and reading changed nothing else.
    assert page.snapshot().phase is Phase.IN_CALL


CHAT = "/bots/google_meet/abc-defg-hij/chat"


def test_a_message_for_the_chat_waits_for_the_bot_and_says_what_became_of_it(
    alice: User,
    alice_api: APIClient,
    django_capture_on_commit_callbacks: Any,
    django_assert_num_queries: Any,
) -> None:
    meeting = meeting_in(alice, MeetingStatus.ACTIVE)
    log = realtime.meeting_event_log_key(meeting)
    realtime.redis_client().delete(log)  # an earlier run's user with this id left events there
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(CHAT, {"text": "Hello from the bot"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json() == {
        "message": "Chat message sent",
        "meeting_id": meeting.pk,
        "status": "active",
    }
    [message] = BotChatMessage.objects.filter(meeting=meeting)
    assert (message.text, message.status) == ("Hello from the bot", "pending")

    with django_capture_on_commit_callbacks(execute=True):
        bot_services.bot_chat_read(meeting_id=meeting.pk, messages=[("Bob", "Can you hear me?")])
        bot_services.bot_chat_posted(message_id=message.pk)
        second = bot_services.bot_chat_send(meeting_id=meeting.pk, text="Second")
        bot_services.bot_chat_posted(message_id=second.pk, error="the meeting shows no chat box")
        # Recorded once: a late second report changes nothing.
        bot_services.bot_chat_posted(message_id=second.pk)
        bot_services.bot_chat_read(meeting_id=meeting.pk, messages=[("Carol", "Yes\nloud")])
    with django_assert_num_queries(4):
        listed = alice_api.get(CHAT).json()
    assert listed["meeting_id"] == meeting.pk
    assert [(m["text"], m["status"], m["error"]) for m in listed["messages"]] == [
        ("Hello from the bot", "sent", ""),
        ("Second", "failed", "the meeting shows no chat box"),
    ]
    assert listed["messages"][0]["sent_at"] is not None
    # The meeting's chat: participants' messages and what the bot posted, in order.
    said = [("Bob", "Can you hear me?", False), ("Vexa Bot", "Hello from the bot", True)]
    said.append(("Carol", "Yes\nloud", False))
    assert [(m["sender"], m["text"], m["from_bot"]) for m in listed["chat"]] == said
    assert all(m["timestamp"].endswith("Z") for m in listed["chat"])
    # Live subscribers got each as a `chat.message`, in the same order and shape.
    events = [e for _, e in realtime.event_log_entries(log) if e["type"] == "chat.message"]
    assert [e["payload"] for e in events] == listed["chat"]
    assert {e["meeting"]["id"] for e in events} == {meeting.pk}
    # A message still waiting when the meeting ends will never be posted.
    third = bot_services.bot_chat_send(meeting_id=meeting.pk, text="Third")
    lifecycle.transition(meeting_id=meeting.pk, to=MeetingStatus.COMPLETED, source="bot_callback")
    last = alice_api.get(CHAT).json()["messages"][-1]
    assert (last["text"], last["status"], last["error"]) == (
        "Third",
        "failed",
        "the bot left the call before it could post it",
    )
    assert BotChatMessage.objects.get(pk=third.pk).error == ""


def test_a_bot_is_sent_with_a_message_to_post_once_it_is_let_in(
    alice: User, alice_api: APIClient
) -> None:
    body = {
        "platform": "google_meet",
        "native_meeting_id": "abc-defg-hij",
        "chat_on_join": "This call is transcribed.",
    }
    too_long = alice_api.post("/bots", {**body, "chat_on_join": "x" * 4097}, format="json")
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "chat_on_join"]
    created = alice_api.post("/bots", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["bot_config"]["chat_on_join"] == "This call is transcribed."


def test_a_chat_message_is_refused_unless_the_bot_is_in_the_call(
    alice: User, alice_api: APIClient
) -> None:
    meeting = meeting_in(alice, MeetingStatus.AWAITING_ADMISSION)
    waiting = alice_api.post(CHAT, {"text": "Hi"}, format="json")
    assert waiting.status_code == 409
    assert "only a bot in the call" in waiting.json()["detail"]
    meeting_in(alice, MeetingStatus.COMPLETED, native_meeting_id="xyz-abcd-efg")
    ended = alice_api.post("/bots/google_meet/xyz-abcd-efg/chat", {"text": "Hi"}, format="json")
    assert ended.status_code == 404
    for bad, where in [
        ({"text": ""}, ["body", "text"]),
        ({"text": "x" * 4097}, ["body", "text"]),
        ({}, ["body", "text"]),
        ({"text": "a\x00b"}, ["body"]),  # the body's guard: no NUL anywhere
    ]:
        refused = alice_api.post(CHAT, bad, format="json")
        assert refused.status_code == 422, bad
        assert refused.json()["detail"][0]["loc"] == where, bad
    assert not BotChatMessage.objects.filter(meeting=meeting).exists()


def test_another_users_bot_is_not_found_and_posting_needs_the_bot_scope(
    alice: User, bob_api: APIClient
) -> None:
    meeting = meeting_in(alice, MeetingStatus.ACTIVE)
    assert bob_api.post(CHAT, {"text": "Hi"}, format="json").status_code == 404
    assert bob_api.get(CHAT).status_code == 404
    # A transcript key reads the chat (what was said in the call) but cannot post in it.
    tx_only = api_client(account_services.token_issue(user=alice, scopes=["tx"]).plain)
    assert tx_only.post(CHAT, {"text": "Hi"}, format="json").status_code == 403
    assert tx_only.get(CHAT).json() == {"meeting_id": meeting.pk, "messages": [], "chat": []}
    browser_only = api_client(account_services.token_issue(user=alice, scopes=["browser"]).plain)
    assert browser_only.get(CHAT).status_code == 403
    assert not BotChatMessage.objects.filter(meeting=meeting).exists()
