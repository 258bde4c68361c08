"""Shared real processes for the bot tests: one Daphne (serving the simulator) and one bot worker.

Started once (they take seconds, a test takes a few; the worker once per module): it runs the
production command (`celery worker -Q bots -P threads`) with `PLATFORM_URLS=simulator`
pointing at the Daphne, so the bot opens the product's own simulator like a real meeting URL.
"""

from __future__ import annotations

import random
import string
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bots.runtime.browser import BrowserHost
from tests import processes
from tests.conftest import ADMIN_KEY
from tests.speech import VOICES, make_speech_wav


@dataclass(frozen=True)
class Speech:
    alice: Path
    bob: Path
    folder: Path


@dataclass(frozen=True)
class BotStack:
    base_url: str
    recordings_dir: Path
    evidence_dir: Path
    worker: subprocess.Popen[str]

    def load_scenario(self, **scenario: Any) -> dict[str, Any]:
        return load_scenario(self.base_url, **scenario)

    def host(
        self, native_meeting_id: str, action: str, *, platform: str = "google_meet"
    ) -> dict[str, Any]:
        return host_action(self.base_url, native_meeting_id, action, platform=platform)


def load_scenario(base_url: str, **scenario: Any) -> dict[str, Any]:
    """Load a simulated meeting through the product's admin-key API."""
    response = httpx.post(
        f"{base_url}/simulator/api/scenarios",
        json={"platform": "google_meet", **scenario},
        headers={"X-Admin-API-Key": ADMIN_KEY},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def host_action(
    base_url: str, native_meeting_id: str, action: str, *, platform: str = "google_meet"
) -> dict[str, Any]:
    """Act as the simulated meeting's host (admit, deny, remove, end)."""
    response = httpx.post(
        f"{base_url}/simulator/api/host/{platform}/{native_meeting_id}/{action}",
        json={},
        headers={"X-Admin-API-Key": ADMIN_KEY},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def host_state(
    base_url: str, native_meeting_id: str, *, platform: str = "google_meet"
) -> dict[str, Any]:
    """What the simulated meeting's host sees: the scenario, its guests and their states."""
    response = httpx.get(
        f"{base_url}/simulator/api/host/{platform}/{native_meeting_id}",
        headers={"X-Admin-API-Key": ADMIN_KEY},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    folder = tmp_path_factory.mktemp("speech")
    return Speech(
        alice=make_speech_wav(
            "Hello everyone, this is Alice with the budget.", folder / "alice.wav", voice=VOICES[0]
        ),
        bob=make_speech_wav("Thanks Alice, Bob here.", folder / "bob.wav", voice=VOICES[1]),
        folder=folder,
    )


def stack_env(base: str, tmp: Path) -> dict[str, str]:
    return {
        "PLATFORM_URLS": "simulator",
        "PUBLIC_BASE_URL": base,
        "RECORDINGS_DIR": str(tmp / "recordings"),
        "BOT_EVIDENCE_DIR": str(tmp / "evidence"),
        "BOT_HEARTBEAT_TIMEOUT_S": "5",
        "BOT_AUDIO_JOIN_TIMEOUT_S": "5",
        "BOT_DEAF_TIMEOUT_S": "5",
    }


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bots")


@pytest.fixture(scope="session")
def sim_server(django_db_setup: Any, django_db_blocker: Any, stack_dir: Path) -> Iterator[str]:
    """A real Daphne serving the product (and its simulator); yields its base URL."""
    shared = {k: v for k, v in stack_env("", stack_dir).items() if k != "PUBLIC_BASE_URL"}
    with django_db_blocker.unblock(), processes.daphne_server(env=shared) as base:
        yield base


# Module-scoped: a worker left running would take other modules' `POST /bots` (they expect
# the bot never to start).
@pytest.fixture(scope="module")
def bot_stack(sim_server: str, django_db_blocker: Any, stack_dir: Path) -> Iterator[BotStack]:
    with (
        django_db_blocker.unblock(),
        processes.celery_worker(
            "bots",
            pool="threads",
            concurrency=2,
            name="bots",
            env=stack_env(sim_server, stack_dir),
        ) as worker,
    ):
        yield BotStack(
            base_url=sim_server,
            recordings_dir=stack_dir / "recordings",
            evidence_dir=stack_dir / "evidence",
            worker=worker,
        )


def meet_id() -> str:
    """A fresh Google Meet code, so tests never share a simulated meeting."""
    letters = string.ascii_lowercase
    part = lambda n: "".join(random.choice(letters) for _ in range(n))  # noqa: E731
    return f"{part(3)}-{part(4)}-{part(3)}"


def wait_for(condition: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


# One shared browser per test module (as a bot host runs one), and the pages a test opened,
# closed after it.
@pytest.fixture(scope="module")
def host() -> Iterator[BrowserHost]:
    browser_host = BrowserHost()
    yield browser_host
    browser_host.shutdown()


@pytest.fixture
def pages(host: BrowserHost) -> Iterator[list[Any]]:
    opened: list[Any] = []  # BotPage (test_page_scripts); closed before the module's browser
    yield opened
    for page in opened:
        page.close()
