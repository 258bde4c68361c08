"""Feed a 16 kHz mono WAV file into a session's stream, as a bot would (tests, benchmarks, demos).

manage.py feed_wav SESSION_UID speech.wav --speaker Alice --realtime --end
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from meetings.stream import SessionStream, feed_pcm, read_wav_pcm16k


class Command(BaseCommand):
    help = "Append a WAV file's audio (and optional speaker events / end) to a session stream."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("session_uid")
        parser.add_argument("wav", help="16 kHz mono 16-bit PCM WAV")
        parser.add_argument("--start-t", type=float, default=0.0, help="session t of sample 0")
        parser.add_argument("--realtime", action="store_true", help="append at capture pace")
        parser.add_argument("--speaker", help="emit speaker start/stop around the audio")
        parser.add_argument("--end", action="store_true", help="append an `end` entry after")

    def handle(self, *args: Any, **options: Any) -> None:
        stream = SessionStream(options["session_uid"])
        pcm = read_wav_pcm16k(options["wav"])
        start_t = float(options["start_t"])
        speaker = options.get("speaker")
        if speaker:
            stream.append_speaker(name=speaker, participant_id=speaker, state="start", t=start_t)
        end_t = feed_pcm(stream, pcm, start_t=start_t, realtime=bool(options["realtime"]))
        if speaker:
            stream.append_speaker(name=speaker, participant_id=speaker, state="stop", t=end_t)
        if options["end"]:
            stream.append_end(reason="feed_wav")
        self.stdout.write(f"fed {end_t - start_t:.2f}s of audio, t={start_t:.2f}..{end_t:.2f}")
