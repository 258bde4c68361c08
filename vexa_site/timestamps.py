"""How a moment is written on the wire and in JSON fields: ISO 8601 in UTC, ending in `Z`.

Vexa's documents write `"2025-01-01T10:00:00Z"`; Django's aware datetimes are UTC here (USE_TZ),
and `isoformat()` spells that `+00:00`. One spelling everywhere: clients compare these strings.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def iso_z(moment: datetime) -> str:
    """`moment` (aware, UTC) as ISO 8601 ending in `Z`."""
    return moment.isoformat().replace("+00:00", "Z")


def now_iso_z() -> str:
    """The current time as `iso_z` writes it."""
    return iso_z(timezone.now())
