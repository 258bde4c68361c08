"""The bot's audio pump: a thread that writes each captured chunk to the session stream and the
recording as soon as it arrives.

Chunks come from the page's binding on the browser loop; waiting for the bot thread's next tick
would add up to its tick to every word's latency. The pump also keeps what the bot reads of the
audio: where the written audio ends (the session's clock), when the last audible chunk came
(the bot's deaf-capture check) and the capture clock's drift against the wall
(`WallClockSync`, written into the stream before the audio it applies to).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np
from django.db import connection

from bots.runtime.recording import RecordingWriter
from bots.runtime.wallclock import WallClockSync
from meetings.stream import SAMPLE_RATE, SessionStream

logger = logging.getLogger(__name__)

# A chunk with a sample this loud (int16, -54 dBFS) is audible: a broken capture gives zeros,
# and any voice, even a faint one, is far above it.
AUDIBLE_PEAK = 64
JOIN_TIMEOUT_S = 30.0


class AudioPump:
    """One bot's audio writer. `end`, `end_at`, `heard_at` and `error` are written by the
    pump's thread only and read by the bot's."""

    def __init__(self, meeting_id: int) -> None:
        self.meeting_id = meeting_id
        # (first sample, pcm, wall time of arrival); None is the sentinel: no chunk after it.
        self.chunks: queue.SimpleQueue[tuple[int, bytes, float] | None] = queue.SimpleQueue()
        self.wall_sync = WallClockSync()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        # The capture-clock end of the audio written, and when (monotonic) it was written: the
        # session's clock runs on from there in wall time while a lost page sends nothing.
        self.end = 0.0
        self.end_at = 0.0
        # When (monotonic) the last audible chunk arrived. Wall time, not the capture clock: a
        # capture whose clock stalled hears nothing either.
        self.heard_at = 0.0

    def start(self, stream: SessionStream, recorder: RecordingWriter | None) -> None:
        self.thread = threading.Thread(
            target=self._run,
            args=(stream, recorder),
            name=f"audio-pump-{self.meeting_id}",
            daemon=True,
        )
        self.thread.start()

    def _run(self, stream: SessionStream, recorder: RecordingWriter | None) -> None:
        try:
            while (item := self.chunks.get()) is not None:
                first_sample, pcm, arrived = item
                t = first_sample / SAMPLE_RATE
                duration_s = len(pcm) / (2 * SAMPLE_RATE)
                wall_offset = self.wall_sync.observe(t=t, duration_s=duration_s, arrived=arrived)
                if wall_offset is not None:  # before the audio it applies to
                    stream.append_clock(t=t, wall_offset=wall_offset)
                stream.append_audio(pcm, t=t)
                if recorder is not None:
                    recorder.write(pcm, t=t)
                self.end = t + duration_s
                self.end_at = time.monotonic()
                samples = np.frombuffer(pcm, dtype="<i2")
                if samples.size and max(int(samples.max()), -int(samples.min())) >= AUDIBLE_PEAK:
                    self.heard_at = time.monotonic()
        except Exception as exc:
            logger.exception("meeting %s: writing the audio failed", self.meeting_id)
            self.error = exc
        finally:
            # The recording's row updates opened this thread's own connection: it ends here.
            connection.close()

    def stop(self) -> None:
        """After capture stopped: let the pump write what is queued, then end it."""
        if self.thread is None:
            return
        self.chunks.put(None)
        self.thread.join(timeout=JOIN_TIMEOUT_S)
        if self.thread.is_alive():
            logger.error("meeting %s: the audio pump did not finish", self.meeting_id)
