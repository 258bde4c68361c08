"""The injected page scripts (capture and the adapter's page scan) in real Chromium.

They run in the product's own browser host against the product's simulated Meet, served by a
real Daphne: the same code path as a bot, minus the database.
"""

from __future__ import annotations

import base64
import http.server
import itertools
import math
import struct
import threading
import time
import wave
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from bots.adapters.base import PageSnapshot, Phase, PlatformAdapter
from bots.adapters.google_meet import GoogleMeetAdapter
from bots.runtime.browser import BrowserHost
from bots.runtime.tab import BINDING, CAPTURE_JS, CONTEXT_OPTIONS
from tests.bots.conftest import Speech, host_action, load_scenario, meet_id, wait_for

ADAPTER = GoogleMeetAdapter()


class BotPage:
    """A page opened the way the bot opens one, with the capture script and its binding."""

    def __init__(
        self,
        host: BrowserHost,
        url: str,
        *,
        before: str | None = None,
        adapter: PlatformAdapter = ADAPTER,
    ) -> None:
        self.host = host
        self.adapter = adapter
        self.chunks: list[tuple[int, bytes]] = []
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        host.run(self._open(url, before))

    async def _open(self, url: str, before: str | None) -> None:
        self.context = await self.host.new_context(**CONTEXT_OPTIONS)
        if before:
            await self.context.add_init_script(before)

        def on_chunk(_source: Any, b64: str, first: int) -> None:
            self.chunks.append((first, base64.b64decode(b64)))

        await self.context.expose_binding(BINDING, on_chunk)
        await self.context.add_init_script(path=str(CAPTURE_JS))
        self.page = await self.context.new_page()
        await self.page.goto(url)

    def snapshot(self) -> PageSnapshot:
        assert self.page is not None
        return self.host.run(self.adapter.snapshot(self.page))

    def wait_phase(self, phase: Phase) -> PageSnapshot:
        return wait_for(
            lambda: snap if (snap := self.snapshot()).phase is phase else None,
            timeout_s=10,
            what=f"the page to show {phase}",
        )

    def join(self, name: str = "Vexa Bot") -> None:
        assert self.page is not None
        self.host.run(self.adapter.join(self.page, bot_name=name, timeout_s=10))

    def evaluate(self, script: str, arg: Any = None) -> Any:
        assert self.page is not None
        return self.host.run(self.page.evaluate(script, arg))

    def close(self) -> None:
        if self.context is not None:
            self.host.run(self.context.close())


def rms(pcm: bytes) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def alice_then_bob(
    sim_server: str,
    host: BrowserHost,
    pages: list[BotPage],
    speech: Speech,
    native: str,
    *,
    bob_at_s: float,
    before: str | None = None,
) -> BotPage:
    """A "Join now" Meet where Alice speaks at 1 s and Bob at `bob_at_s`, opened the way the
    bot opens it (not joined yet), with init script `before` ahead of the capture's."""
    load_scenario(
        sim_server,
        native_meeting_id=native,
        variant="join_now",
        participants=[
            {"name": "Alice", "audio": str(speech.alice), "at_s": 1.0},
            {"name": "Bob", "audio": str(speech.bob), "at_s": bob_at_s},
        ],
    )
    page = BotPage(host, f"{sim_server}/simulator/google_meet/{native}", before=before)
    pages.append(page)
    return page


def in_a_quiet_call(
    sim_server: str, host: BrowserHost, pages: list[BotPage], *, before: str | None = None
) -> BotPage:
    """A page the way the bot opens it, joined to a "Join now" Meet where nobody speaks."""
    native = meet_id()
    load_scenario(sim_server, native_meeting_id=native, variant="join_now")
    page = BotPage(host, f"{sim_server}/simulator/google_meet/{native}", before=before)
    pages.append(page)
    page.join()
    page.wait_phase(Phase.IN_CALL)
    return page


def test_capture_mixes_all_three_meet_tracks_into_contiguous_16k_chunks_with_speech(
    sim_server: str, speech: Speech, host: BrowserHost, pages: list[BotPage]
) -> None:
    native = meet_id()
    with wave.open(str(speech.alice)) as wav:
        alice_len = wav.getnframes() / wav.getframerate()
    page = alice_then_bob(sim_server, host, pages, speech, native, bob_at_s=1.3)
    page.join()
    page.wait_phase(Phase.IN_CALL)

    page.evaluate("window.__vexaCapture.start()")
    speakers: set[str] = set()

    def captured_enough() -> bool:
        speakers.update(p.name for p in page.snapshot().participants if p.speaking)
        return len(page.chunks) * 0.1 >= alice_len + 1.3

    wait_for(captured_enough, timeout_s=15, what="the speech to be captured")
    stats = page.evaluate("window.__vexaCapture.stats()")
    agent = page.evaluate("navigator.userAgent")

    assert "Headless" not in agent
    assert "Chrome/" in agent
    # Meet's three receiver tracks, though only two people speak: a track is not a participant.
    assert stats["tracks"] == 3
    assert stats["running"] is True
    firsts = [first for first, _ in page.chunks]
    assert firsts == [i * 1600 for i in range(len(firsts))]
    assert {len(pcm) for _, pcm in page.chunks} == {3200}
    pcm = b"".join(chunk for _, chunk in page.chunks)
    # Speech is heard (the scenario clock starts when the page's media connection is up, which
    # may be a little before or after capture starts, so look at every half second).
    half_second = 16000
    loudest = max(
        rms(pcm[offset : offset + half_second]) for offset in range(0, len(pcm), half_second)
    )
    assert loudest > 1000
    assert speakers == {"Alice", "Bob"}


def test_a_long_scenarios_speech_is_fetched_shortly_before_it_is_due_not_all_at_the_join(
    sim_server: str, speech: Speech, host: BrowserHost, pages: list[BotPage]
) -> None:
    """An hour of scripted speech decoded at the join held ~400 MB in the bot's renderer."""
    native = meet_id()
    page = alice_then_bob(sim_server, host, pages, speech, native, bob_at_s=600.0)
    page.join()
    page.wait_phase(Phase.IN_CALL)
    wait_for(
        lambda: any(p.speaking for p in page.snapshot().participants),
        timeout_s=10,
        what="Alice speaking",
    )

    fetched = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(u => u.includes('/simulator/media/'))"
    )

    # Participant 0's first turn; participant 1's, ten minutes away, not yet.
    assert [url.split(f"/{native}/", 1)[1] for url in fetched] == ["0/0"]


def test_a_turn_whose_speech_failed_to_load_is_fetched_again_and_the_turns_after_it_play(
    sim_server: str, speech: Speech, host: BrowserHost, pages: list[BotPage]
) -> None:
    """The first fetch of Alice's speech fails, as one does while the server restarts."""
    native = meet_id()
    page = alice_then_bob(sim_server, host, pages, speech, native, bob_at_s=4.0)
    requests: list[str] = []

    async def fail_the_first(route: Any) -> None:
        requests.append(route.request.url.split(f"/{native}/", 1)[1])
        if len(requests) == 1:
            await route.abort("connectionreset")
        else:
            await route.continue_()

    assert page.context is not None
    host.run(page.context.route("**/simulator/media/**", fail_the_first))
    page.join()
    page.wait_phase(Phase.IN_CALL)

    wait_for(
        lambda: any(p.name == "Bob" and p.speaking for p in page.snapshot().participants),
        timeout_s=15,
        what="Bob speaking after Alice's speech failed to load once",
    )
    assert requests[0] == "0/0"
    assert requests.count("0/0") == 2  # fetched again, once


def test_a_poll_answered_after_the_leave_does_not_put_the_page_back_in_the_call(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    """On a loaded host a state poll asked before the bot left was answered after it, and the
    page showed the call again: the bot's leave went unconfirmed and its stop took 5 s."""
    page = in_a_quiet_call(sim_server, host, pages)
    assert page.context is not None
    assert page.page is not None
    meet = page.page
    held: list[tuple[Any, Any]] = []  # each poll with the answer the server gave it then

    async def hold(route: Any) -> None:
        held.append((route, await route.fetch()))

    host.run(page.context.route("**/state?*", hold))
    wait_for(lambda: held, timeout_s=5, what="a state poll held back")
    assert host.run(ADAPTER.leave(meet, timeout_s=5))

    async def answer_late() -> None:
        for route, stale in list(held):
            async with meet.expect_event("requestfinished"):
                await route.fulfill(response=stale)  # "admitted": asked before the leave
        # The page reads the answer a task later.
        await meet.evaluate("new Promise((resolve) => setTimeout(resolve, 50))")

    host.run(answer_late())
    snapshot = page.snapshot()
    assert snapshot.phase is Phase.ENDED, snapshot


def test_capture_before_start_sends_nothing_and_a_page_without_webrtc_is_silent(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    page = in_a_quiet_call(sim_server, host, pages)
    assert page.chunks == []

    page.evaluate("window.__vexaCapture.start()")
    wait_for(lambda: len(page.chunks) >= 5, timeout_s=5, what="chunks")

    # Chunks keep coming at full rate while nobody speaks: "chunks arrive" is not health.
    assert max(rms(pcm) for _, pcm in page.chunks) < 50


def test_the_page_scan_follows_the_lobby_admission_and_removal(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    native = meet_id()
    load_scenario(
        sim_server,
        native_meeting_id=native,
        admit="manual",
        participants=[{"name": "Alice"}],
    )
    page = BotPage(host, f"{sim_server}/simulator/google_meet/{native}")
    pages.append(page)
    assert page.wait_phase(Phase.PREJOIN).phase is Phase.PREJOIN

    page.join()
    lobby = page.wait_phase(Phase.LOBBY)
    host_action(sim_server, native, "admit")
    page.wait_phase(Phase.IN_CALL)
    call = wait_for(
        lambda: snap if len((snap := page.snapshot()).participants) == 2 else None,
        timeout_s=5,
        what="Alice's tile",
    )
    host_action(sim_server, native, "remove")
    removed = page.wait_phase(Phase.REMOVED)

    assert lobby.detail == "Asking to be let in"
    assert len(call.indicators) >= 2
    assert sorted(p.name for p in call.participants) == ["Alice", "Vexa Bot"]
    assert removed.detail == "You've been removed from the meeting"


def test_the_page_scan_reads_denial_and_the_lobby_timeout(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    denied_id, waiting_id = meet_id(), meet_id()
    load_scenario(sim_server, native_meeting_id=denied_id, admit="deny", admit_after_s=0.2)
    load_scenario(sim_server, native_meeting_id=waiting_id, admit="never", lobby_timeout_s=0.5)
    denied = BotPage(host, f"{sim_server}/simulator/google_meet/{denied_id}")
    waiting = BotPage(host, f"{sim_server}/simulator/google_meet/{waiting_id}")
    pages.extend([denied, waiting])

    started = time.monotonic()
    denied.join()
    waiting.join()

    assert denied.wait_phase(Phase.REJECTED).detail == "You can't join this video call"
    assert waiting.wait_phase(Phase.LOBBY_TIMEOUT).phase is Phase.LOBBY_TIMEOUT
    assert time.monotonic() - started < 10


def keep_instances(constructor: str, into: str) -> str:
    """An init script keeping every `window[constructor]` the page creates in `window[into]`."""
    return f"""
const Native{constructor} = window.{constructor};
window.{into} = [];
window.{constructor} = class extends Native{constructor} {{
  constructor(...args) {{ super(...args); window.{into}.push(this); }}
}};
"""


# Keeps every AudioContext the page creates, so the test can stall the capture's own clock.
KEEP_CONTEXTS = keep_instances("AudioContext", "__contexts")
STALL_CAPTURE = """async () => {
  const ctx = window.__contexts.find((c) => c.sampleRate === 16000);
  await ctx.suspend();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await ctx.resume();
}"""


def test_a_stalled_audio_clock_shows_as_a_jump_in_t_not_as_shifted_audio(
    sim_server: str, host: BrowserHost, pages: list[BotPage]
) -> None:
    page = in_a_quiet_call(sim_server, host, pages, before=KEEP_CONTEXTS)
    page.evaluate("window.__vexaCapture.start()")
    wait_for(lambda: len(page.chunks) >= 3, timeout_s=5, what="chunks")

    page.evaluate(STALL_CAPTURE)
    count = len(page.chunks)
    wait_for(lambda: len(page.chunks) >= count + 3, timeout_s=5, what="chunks after the stall")

    firsts = [first for first, _ in page.chunks]
    jumps = [b - a - 1600 for a, b in itertools.pairwise(firsts) if b - a != 1600]
    assert len(jumps) == 1
    assert jumps[0] / 16000 == pytest.approx(1.5, abs=0.3)
    stats = page.evaluate("window.__vexaCapture.stats()")
    assert stats["gap_s"] == pytest.approx(jumps[0] / 16000)


# Keeps the wall clock time (s) at which each turn the simulated platform places on its page's
# audio clock is to start.
KEEP_PLACED = """
const NativeStart = AudioBufferSourceNode.prototype.start;
window.__placed = [];
AudioBufferSourceNode.prototype.start = function (when, ...rest) {
  window.__placed.push(performance.now() / 1000 + (when - this.context.currentTime));
  return NativeStart.call(this, when, ...rest);
};
"""
# Once `placed` turns are on it, stops the simulated platform's audio clock (not the capture's)
# until `until_s` after the first turn's start; resolves to how long it stood still (s).
STALL_SIMULATOR = """async ([placed, until_s]) => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  while (window.__placed.length < placed) await sleep(20);
  const ctx = window.__contexts.find((c) => c.sampleRate !== 16000);
  const from = performance.now() / 1000;
  await ctx.suspend();
  await sleep((window.__placed[0] + until_s) * 1000 - performance.now());
  await ctx.resume();
  return performance.now() / 1000 - from;
}"""


def onsets(chunks: list[tuple[int, bytes]], *, quiet_s: float = 1.0) -> list[float]:
    """Capture times (s) where speech starts after at least `quiet_s` of silence."""
    found: list[float] = []
    quiet = math.inf
    for first, pcm in chunks:
        if rms(pcm) > 300:
            if quiet >= quiet_s:
                found.append(first / 16000)
            quiet = 0.0
        else:
            quiet += len(pcm) / 32000
    return found


def capture_until_alice_spoke(page: BotPage, *, quiet_chunks: int) -> None:
    """Join, capture, and wait until Alice's turn is over and `quiet_chunks` silent 0.1 s
    chunks followed it."""
    page.join()
    page.wait_phase(Phase.IN_CALL)
    page.evaluate("window.__vexaCapture.start()")
    wait_for(
        lambda: (
            len(onsets(page.chunks)) == 1
            and all(rms(c) < 300 for _, c in page.chunks[-quiet_chunks:])
        ),
        timeout_s=15,
        what=f"Alice to speak, then {quiet_chunks / 10:.1f} s of silence",
    )


@pytest.mark.parametrize(
    "placed",
    [pytest.param(1, id="before-the-turn-is-placed"), pytest.param(2, id="after-it-is-placed")],
)
def test_participants_speak_on_the_wall_clock_when_the_pages_audio_clock_stalls(
    sim_server: str, speech: Speech, host: BrowserHost, pages: list[BotPage], placed: int
) -> None:
    """A busy host's page audio clock loses time; the people in a real call do not wait for it.
    A turn placed on that clock while it stood still, or placed before a stall and not started
    yet, came as late as the stall was long (0.75 s on a loaded CI host)."""
    native = meet_id()
    with wave.open(str(speech.alice)) as wav:
        alice_len = wav.getnframes() / wav.getframerate()
    bob_at_s = 1.0 + alice_len + 3.0
    page = alice_then_bob(
        sim_server,
        host,
        pages,
        speech,
        native,
        bob_at_s=bob_at_s,
        before=KEEP_CONTEXTS + KEEP_PLACED,
    )
    capture_until_alice_spoke(page, quiet_chunks=10)

    # In the pause between the turns, up to 0.2 s before Bob is due (he is placed 1 s before).
    stalled_s = page.evaluate(STALL_SIMULATOR, [placed, bob_at_s - 1.0 - 0.2])
    wait_for(lambda: len(onsets(page.chunks)) == 2, timeout_s=15, what="Bob to speak")

    assert stalled_s > 0.3  # longer than the tolerance below
    alice, bob = onsets(page.chunks)
    assert bob - alice == pytest.approx(bob_at_s - 1.0, abs=0.3)


PEER_CONNECTIONS = keep_instances("RTCPeerConnection", "__peerConnections")

RECEIVED_AUDIO = """async () => {
  const tracks = [];
  for (const pc of window.__peerConnections) {
    (await pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "audio") {
        tracks.push({ received: report.totalSamplesReceived, concealed: report.concealedSamples });
      }
    });
  }
  return tracks;
}"""


def test_the_participants_tracks_carry_their_silences_like_a_microphone(
    sim_server: str, speech: Speech, host: BrowserHost, pages: list[BotPage]
) -> None:
    """Meet's three tracks flow while nobody speaks. Tracks that went quiet between turns made
    the bot's WebRTC receiver conceal the gaps and grow its jitter buffer: after a few turns
    with pauses, speech reached the bot 0.7-0.9 s after it was spoken."""
    native = meet_id()
    page = alice_then_bob(
        sim_server, host, pages, speech, native, bob_at_s=30.0, before=PEER_CONNECTIONS
    )
    capture_until_alice_spoke(page, quiet_chunks=15)

    tracks = page.evaluate(RECEIVED_AUDIO)

    assert len(tracks) == 3, tracks
    for track in tracks:
        assert track["received"] >= 3 * 48000, tracks  # 48 kHz, since the call began
        assert track["concealed"] < 4800, tracks  # under 0.1 s made up by the receiver


def test_capture_works_when_the_meeting_page_is_a_public_origin(
    sim_server: str, speech: Speech
) -> None:
    """Chromium's Local Network Access blocks a public page from reaching loopback; the
    capture hands audio over through the CDP binding, so a real (public) meeting origin works.
    The simulator is served from loopback, so the test declares its origin public."""
    port = sim_server.rsplit(":", 1)[1]
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    public = BrowserHost(extra_args=(f"--ip-address-space-overrides=127.0.0.1:{port}=public",))
    native = meet_id()
    load_scenario(
        sim_server,
        native_meeting_id=native,
        variant="join_now",
        participants=[{"name": "Alice", "audio": str(speech.alice), "at_s": [1.0, 5.0]}],
    )
    page = BotPage(public, f"{sim_server}/simulator/google_meet/{native}")
    try:
        # The override is in force: the page cannot reach loopback (a live server, no-cors).
        blocked = page.evaluate(
            f"fetch('http://127.0.0.1:{other.server_port}/', {{mode: 'no-cors'}})"
            ".then(() => 'reached', (e) => 'blocked: ' + e)"
        )
        page.join()
        page.wait_phase(Phase.IN_CALL)
        page.evaluate("window.__vexaCapture.start()")
        wait_for(
            lambda: any(rms(pcm) > 1000 for _, pcm in page.chunks),
            timeout_s=15,
            what="speech from a public-origin page",
        )
    finally:
        page.close()
        public.shutdown()
        other.shutdown()
    assert blocked.startswith("blocked")
