"""Load a simulated meeting from a scenario file (see `bots/simulator/scenarios.py`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bots.simulator import scenarios
from vexa_site.errors import DomainError


class Command(BaseCommand):
    help = "Start (or restart) a simulated meeting from SCENARIO.json and print its URLs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario", type=Path)
        parser.add_argument(
            "--follow", action="store_true", help="print guest changes until the meeting ends"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SIMULATOR_ENABLED:
            raise CommandError("the simulator is off: set SIMULATOR_ENABLED=1")
        path: Path = options["scenario"]
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            scenario = scenarios.scenario_parse(data)
        except DomainError as exc:
            raise CommandError(f"invalid scenario: {exc.detail}") from None
        scenarios.scenario_load(scenario)
        where = f"{scenario.platform}/{scenario.native_meeting_id}"
        base = settings.PUBLIC_BASE_URL
        self.stdout.write(f"meeting page: {base}/simulator/{where}")
        self.stdout.write(f"host controls: {base}/simulator/host/{where}")
        self.stdout.write(
            f'send a bot: POST /bots {{"platform": "{scenario.platform}", '
            f'"native_meeting_id": "{scenario.native_meeting_id}"}}'
        )
        if options["follow"]:
            self._follow(scenario)

    def _follow(self, scenario: scenarios.Scenario) -> None:
        seen: dict[str, str] = {}
        while True:
            state = scenarios.state_get(scenario.platform, scenario.native_meeting_id)
            if state is None:
                return
            for guest in state.guests.values():
                if seen.get(guest.guest_id) != guest.state:
                    seen[guest.guest_id] = guest.state
                    self.stdout.write(f"guest {guest.name!r}: {guest.state}")
            if state.ended_at is not None:
                self.stdout.write("the meeting ended")
                return
            time.sleep(0.5)
