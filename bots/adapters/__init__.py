"""Platform adapters: one per meeting platform, behind `PlatformAdapter`."""

from __future__ import annotations

from bots.adapters.base import PlatformAdapter
from bots.adapters.google_meet import GoogleMeetAdapter

_ADAPTERS: dict[str, type[PlatformAdapter]] = {"google_meet": GoogleMeetAdapter}


def register(platform: str, adapter: type[PlatformAdapter]) -> None:
    """Add a platform (Teams, Zoom adapters register here)."""
    _ADAPTERS[platform] = adapter


def adapter_for(platform: str) -> PlatformAdapter | None:
    adapter = _ADAPTERS.get(platform)
    return adapter() if adapter is not None else None
