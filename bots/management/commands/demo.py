"""The demo: a simulated Google Meet with two speakers, a bot sent to it, a live transcript.

Needs the product running (web, a bot worker, a transcription worker), as `make demo` starts
it. Prints every status change of the meeting and every transcript segment as it arrives.
"""

from __future__ import annotations

import random
import string
import time
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services as account_services
from bots import services as bot_services
from bots.simulator import scenarios
from bots.simulator.speech import SpeechToolsMissing, make_speech_wav
from meetings.models import Meeting, MeetingStatus
from transcripts.models import Segment

LINES = (
    ("Alice", "en-us+f3", "Good morning everyone. Let's review the launch plan for next week."),
    ("Bob", "en-gb+m3", "Thanks Alice. The servers are ready and all the tests are passing."),
    ("Alice", "en-us+f3", "Great. Then we ship on Monday and write the release notes today."),
)
GAP_S = 0.8


def speak(text: str, voice: str, path: Path) -> Path:
    """espeak-ng speech as a 16 kHz mono WAV (generated, never shipped)."""
    if path.exists():
        return path
    try:
        return make_speech_wav(text, path, voice=voice, speed_wpm=165)
    except SpeechToolsMissing as exc:
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = "Start a simulated Google Meet with two speakers, send a bot, print the transcript."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="demo@example.com")
        parser.add_argument("--timeout", type=float, default=180.0)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SIMULATOR_ENABLED or settings.PLATFORM_URLS != "simulator":
            raise CommandError("the demo needs SIMULATOR_ENABLED=1 and PLATFORM_URLS=simulator")
        self._wait_for_web()
        native = "-".join(
            "".join(random.choices(string.ascii_lowercase, k=n))  # noqa: S311
            for n in (3, 4, 3)
        )
        folder = Path(settings.SIMULATOR_MEDIA_DIR) / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        participants = []
        at = 1.0
        for index, (name, voice, text) in enumerate(LINES):
            wav = speak(text, voice, folder / f"{index}-{name.lower()}.wav")
            participants.append({"name": name, "audio": str(wav), "at_s": round(at, 2)})
            at += scenarios.wav_duration_s(wav) + GAP_S
        scenario = scenarios.scenario_parse(
            {
                "platform": "google_meet",
                "native_meeting_id": native,
                "variant": "ask_to_join",
                "admit": "auto",
                "admit_after_s": 1.5,
                "participants": participants,
                "end_after_s": round(at + 2.0, 1),
            }
        )
        scenarios.scenario_load(scenario)
        user, _ = account_services.user_get_or_create(
            email=options["email"], name="Demo", max_concurrent_bots=0
        )
        meeting = bot_services.bot_create(
            user=user,
            platform="google_meet",
            native_meeting_id=native,
            bot_name="Vexa Demo Bot",
            language="en",
        )
        base = settings.PUBLIC_BASE_URL
        self.stdout.write(f"simulated meeting: {base}/simulator/google_meet/{native}")
        self.stdout.write(f"host controls:     {base}/simulator/host/google_meet/{native}")
        self.stdout.write(f"bot requested: meeting #{meeting.pk}")
        self._follow(meeting.pk, timeout_s=options["timeout"])

    def _wait_for_web(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{settings.PUBLIC_BASE_URL}/healthz", timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise CommandError(f"the web server at {settings.PUBLIC_BASE_URL} is not up")
            time.sleep(0.5)

    def _follow(self, meeting_id: int, *, timeout_s: float) -> None:
        shown_transitions = 0
        shown: dict[str, tuple[str, bool]] = {}
        ended_at: float | None = None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            meeting = Meeting.objects.get(pk=meeting_id)
            history = meeting.data.get("status_transition") or []
            for entry in history[shown_transitions:]:
                why = entry.get("completion_reason") or entry.get("reason") or ""
                self.stdout.write(f"[status] {entry['from']} -> {entry['to']}  {why}")
            shown_transitions = len(history)
            for segment in Segment.objects.filter(meeting_id=meeting_id).order_by("start"):
                state = (segment.text, segment.completed)
                if shown.get(segment.segment_id) == state:
                    continue
                shown[segment.segment_id] = state
                mark = "final" if segment.completed else "draft"
                self.stdout.write(
                    f"[{mark}] {segment.start:6.1f}s {segment.speaker or '?'}: {segment.text}"
                )
            if meeting.status in (MeetingStatus.COMPLETED, MeetingStatus.FAILED):
                ended_at = ended_at or time.monotonic()
                drafts = Segment.objects.filter(meeting_id=meeting_id, completed=False).exists()
                # Transcription finishes the tail after the bot left; give it a moment.
                if not drafts and time.monotonic() - ended_at > 5:
                    break
                if time.monotonic() - ended_at > 30:
                    break
            time.sleep(0.3)
        finals = Segment.objects.filter(meeting_id=meeting_id, completed=True).count()
        self.stdout.write(f"done: meeting #{meeting_id}, {finals} final segments")
