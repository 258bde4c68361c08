"""Celery tasks of the meetings app."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from meetings import retention


@shared_task(name="meetings.tasks.apply_retention")
def apply_retention() -> dict[str, Any]:
    """Beat task (hourly): delete what outlived the operator's retention settings; what a
    time-boxed run leaves is taken by the next one."""
    return asdict(retention.retention_apply())
