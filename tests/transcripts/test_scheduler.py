"""How a worker process trades accuracy for throughput as it takes on sessions."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from django.test import override_settings

from transcripts.engine import scheduler


@pytest.mark.parametrize(("sessions", "beam", "context"), [(1, 3, 5.0), (2, 3, 5.0), (3, 1, 0.0)])
def test_beam_and_left_context_are_dropped_beyond_the_configured_sessions(
    sessions: int, beam: int, context: float
) -> None:
    with override_settings(
        WHISPER_BEAM_SIZE=3,
        WHISPER_BEAM_MAX_SESSIONS=2,
        WHISPER_CONTEXT_S=5.0,
        WHISPER_CONTEXT_MAX_SESSIONS=2,
    ):
        with ExitStack() as stack:
            for _ in range(sessions):
                stack.enter_context(scheduler.ActiveSession())
            assert scheduler.beam_for_load() == beam
            assert scheduler.context_for_load() == context
        assert scheduler.context_for_load() == 5.0  # the sessions ended
        assert scheduler.beam_for_load() == 3
