"""Platform adapters: one per meeting platform, behind `PlatformAdapter`."""

from __future__ import annotations

from bots.adapters.base import PlatformAdapter
from bots.adapters.google_meet import GoogleMeetAdapter
from bots.adapters.teams import TeamsAdapter
from bots.adapters.zoom import ZoomAdapter

_ADAPTERS: dict[str, type[PlatformAdapter]] = {
    "google_meet": GoogleMeetAdapter,
    "teams": TeamsAdapter,
    "zoom": ZoomAdapter,
}


def register(platform: str, adapter: type[PlatformAdapter]) -> None:
    """Add a platform at run time (the built-in ones are in `_ADAPTERS`)."""
    _ADAPTERS[platform] = adapter


def adapter_for(platform: str) -> PlatformAdapter | None:
    adapter = _ADAPTERS.get(platform)
    return adapter() if adapter is not None else None
