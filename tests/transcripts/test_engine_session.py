"""The session loop's clock for when audio reached the stream (what draft latency is timed from)."""

from __future__ import annotations

from meetings.stream import StreamEntry
from transcripts.engine.session import Arrivals


def audio(entry_id: str) -> StreamEntry:
    return StreamEntry(id=entry_id, type="audio", t=0.0, pcm=b"")


def test_audio_that_waited_while_the_loop_ran_a_pass_is_timed_from_when_it_reached_redis() -> None:
    now = [500.0]
    arrivals = Arrivals(clock=lambda: now[0])
    assert arrivals(audio("7000000-0")) == 500.0  # nothing read yet: when it is fed
    # Read the moment it came (the loop was blocked on the stream): this sets the offset
    # between Redis's clock (the id's milliseconds) and ours, whatever the hosts' skew.
    arrivals.read([audio("7000000-0")])
    # The loop ran a 0.8 s pass while two chunks came, then read both at once.
    now[0] = 500.9
    later = [audio("7000100-0"), audio("7000200-0")]
    arrivals.read(later)
    assert [round(arrivals(e), 3) for e in later] == [500.1, 500.2]
    # A chunk read late never moves the offset; one read sooner after its id than any before
    # shows the first read was late, and corrects every estimate.
    now[0] = 501.25
    arrivals.read([audio("7000300-0")])
    assert round(arrivals(audio("7000300-0")), 3) == 500.3
    now[0] = 501.35
    arrivals.read([audio("7001400-0")])
    assert round(arrivals(audio("7000100-0")), 3) == 500.05
