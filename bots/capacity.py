"""How many bots the running bot hosts can hold at once.

Each bot worker (a Celery worker consuming `bots`; its `-c` is its slots, since a bot's task
lives as long as the bot) announces its slots in one Redis hash every `ANNOUNCE_EVERY_S`, valid
for `ANNOUNCE_TTL_S` unless renewed, and withdraws them when it shuts down. `POST /bots`
compares the sum with the bots that hold or wait for a slot and answers 507 at once when none
is free,
instead of queueing a bot that would join after a whole meeting has ended on another slot, or
fail after `BOT_START_TIMEOUT_S`. With no worker announced (none started yet, or a deployment
that scales bot hosts on demand) nothing is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models import QuerySet

from meetings.models import LIVE_STATUSES, Meeting, MeetingStatus
from vexa_site.redis import get_redis

logger = logging.getLogger(__name__)

HOSTS_KEY = "vexa:bot-hosts"
ANNOUNCE_EVERY_S = 5.0
# A host that stopped announcing (killed) stops counting after this.
ANNOUNCE_TTL_S = 15.0


def host_announce(*, name: str, slots: int) -> None:
    # One hash for all hosts (field: host, value: "slots until"): POST /bots reads it with one
    # HGETALL, where a key per host would need a SCAN of the whole keyspace.
    get_redis().hset(HOSTS_KEY, name, f"{slots} {time.time() + ANNOUNCE_TTL_S}")


def host_withdraw(*, name: str) -> None:
    get_redis().hdel(HOSTS_KEY, name)


def hosts_announced() -> dict[str, int]:
    """Slots by bot host, of the hosts that announced themselves lately; stale ones are
    removed on the way."""
    redis = get_redis()
    now = time.time()
    hosts: dict[str, int] = {}
    raw: dict[bytes, bytes] = redis.hgetall(HOSTS_KEY)  # type: ignore[assignment]
    for name, value in raw.items():
        slots, until = value.decode().split()
        if float(until) < now:
            redis.hdel(HOSTS_KEY, name)
        else:
            hosts[name.decode()] = int(slots)
    return hosts


def slots_total() -> int | None:
    """The slots of every bot host that announced itself lately; None when none did."""
    hosts = hosts_announced()
    return sum(hosts.values()) if hosts else None


def meetings_holding_slots(now: datetime) -> QuerySet[Meeting]:
    """Meetings whose bot holds a slot or waits for one: live, and not scheduled for later.
    The same meetings count against a user's `max_concurrent_bots`."""
    return Meeting.objects.filter(status__in=LIVE_STATUSES).exclude(join_at__gt=now)


def slots_taken(now: datetime) -> int:
    """Bots holding a slot or waiting for one, of every user."""
    return meetings_holding_slots(now).count()


def slots_reserved(now: datetime) -> int:
    """Scheduled bots due within `BOT_SLOT_RESERVE_S`: their slots are held for them."""
    return Meeting.objects.filter(
        status=MeetingStatus.REQUESTED,
        join_at__gt=now,
        join_at__lte=now + timedelta(seconds=settings.BOT_SLOT_RESERVE_S),
    ).count()


class Announcer:
    """The daemon thread of one bot worker that keeps its slots announced."""

    def __init__(self, *, name: str, slots: int) -> None:
        self.name, self.slots = name, slots
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bot-slots", daemon=True)

    def start(self) -> Announcer:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                host_announce(name=self.name, slots=self.slots)
            except redis.RedisError as exc:
                # Redis away for a moment: the key expires and POST /bots stops refusing.
                logger.warning("could not announce this bot host's slots: %s", exc)
            except Exception:
                logger.exception("could not announce this bot host's slots")
            self.stopped.wait(ANNOUNCE_EVERY_S)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=ANNOUNCE_EVERY_S)
        try:
            host_withdraw(name=self.name)
        except redis.RedisError as exc:
            # `make run` stops every process at once, Redis too: one line, not a traceback;
            # the announcement expires on its own.
            logger.warning("could not withdraw this bot host's slots: %s", exc)
        except Exception:
            logger.exception("could not withdraw this bot host's slots")


_announcer: Announcer | None = None


def worker_started(consumer: Any) -> None:
    """`worker_ready`: a worker that consumes `bots` starts announcing its `-c` slots."""
    global _announcer
    if "bots" not in consumer.app.amqp.queues.consume_from:
        return
    controller = consumer.controller
    _announcer = Announcer(name=controller.hostname, slots=int(controller.concurrency)).start()


def worker_stopping() -> None:
    """`worker_shutdown`: the slots are withdrawn at once rather than left to expire."""
    global _announcer
    if _announcer is not None:
        _announcer.stop()
        _announcer = None
