from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from accounts.models import User
from meetings import lifecycle
from meetings.models import Meeting
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def private_urls_allowed() -> Iterator[None]:
    # The receiver lives on loopback, which production refuses; local development allows it.
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        yield


def meeting_create(user: User, native_id: str = "abc-defg-hij") -> Meeting:
    with transaction.atomic():
        meeting = Meeting.objects.create(
            user=user, platform="google_meet", native_meeting_id=native_id
        )
        lifecycle.record_created(meeting)
    return meeting


FULL_RUN = ("joining", "awaiting_admission", "active", "stopping", "completed")


def meeting_run(meeting: Meeting, steps: tuple[str, ...] = FULL_RUN, **kwargs: Any) -> None:
    for to in steps:
        lifecycle.transition(meeting_id=meeting.pk, to=to, source="test", reason=f"to {to}")
