"""Celery tasks of the bot runtime.

`run_bot` runs on the `bots` queue in a thread-pool worker (`-P threads -c N`): the task lives
as long as its bot, so Celery's slots count running bots and `acks_late` means something. The
bots of one worker process share one browser (see `bots.runtime.browser`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown

from bots import capacity
from bots.runtime import browser, supervision
from bots.runtime.bot import BotRun
from vexa_site import health

logger = logging.getLogger(__name__)


@shared_task(name="bots.tasks.run_bot", acks_late=True)
def run_bot(meeting_id: int, takeover: str | None = None) -> str:
    """Run the bot of `meeting_id` from `requested` to `completed`/`failed`; with `takeover`
    (the supervisor's token), rejoin the `active` meeting whose bot was lost.

    Returns early ("skipped") if the meeting is no longer `requested` (a second delivery, or a
    stop before the bot started) or no longer waits for this takeover, and ("scheduled") if its
    `join_at` is still ahead.
    """
    outcome = BotRun(meeting_id, takeover=takeover).run()
    logger.info("bot for meeting %s finished: %s", meeting_id, outcome)
    return outcome


@shared_task(name="bots.tasks.supervise_bots")
def supervise_bots() -> dict[str, list[int]]:
    """Beat task: hand over or end meetings whose bot stopped heartbeating; fail bots nobody
    started."""
    health.beat_mark()
    report = supervision.meetings_supervise()
    return {
        "failed": report.failed,
        "taken_over": report.taken_over,
        "never_started": report.never_started,
    }


@shared_task(name="bots.tasks.start_scheduled_bots")
def start_scheduled_bots() -> list[int]:
    """Beat task: enqueue `run_bot` for requested meetings whose `join_at` has come."""
    due = supervision.scheduled_bots_due()
    for meeting_id in due:
        run_bot.delay(meeting_id)
    return due


@worker_shutdown.connect
@worker_process_shutdown.connect
def _close_browser(**_kwargs: Any) -> None:
    """Close this process's shared browser (if any) so no Chromium outlives its worker."""
    browser.shutdown_all()


@worker_ready.connect
def _announce_slots(sender: Any = None, **_kwargs: Any) -> None:
    capacity.worker_started(sender)


@worker_shutdown.connect
def _withdraw_slots(**_kwargs: Any) -> None:
    capacity.worker_stopping()
