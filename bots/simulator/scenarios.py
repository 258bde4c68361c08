"""Simulated meetings: the scenario format, its validation, and the live state kept in Redis.

A scenario says what happens in one simulated meeting; its times count from the moment the
first guest (the bot) is admitted, so a test never races the bot's join. The live state (guests
in the waiting room, who was admitted, removed, whether the host ended the meeting) is one JSON
document per meeting in Redis, changed under a short Redis lock by the host's actions and by
the clock (auto-admission, lobby timeout, `end_after_s`, `remove_bot_after_s`).

Scenario JSON:

    {"platform": "google_meet" | "teams" | "zoom", "native_meeting_id": "abc-defg-hij",
     "variant": "ask_to_join" | "join_now", "continue_step": true,
     "host_starts_after_s": null, "require_sign_in": false, "audio_join": "auto",
     "passcode": null, "captions": true, "gallery_size": null,
     "admit": "auto" | "manual" | "deny" | "never", "admit_after_s": 1.0,
     "lobby_timeout_s": 30,
     "participants": [{"name": "Alice", "audio": "alice.wav", "at_s": [0.5, 6],
                       "join_at_s": 0, "leave_at_s": null,
                       "chat": [{"at_s": 3, "text": "The deck: https://example.com/deck"}]}],
     "end_after_s": null, "remove_bot_after_s": null}

`audio` is an absolute WAV path or a file under `SIMULATOR_MEDIA_DIR`; `at_s` is one start time
or a list (one turn each). A name listed twice is one participant with several turns. `chat`:
what the participant posts in the meeting's chat, and when. A guest's page shows the chat as
the platform does: Teams the whole meeting's, Meet and Zoom only what was posted since the
guest was let in.
`variant` "join_now" lets the guest straight in (Meet's open meetings, a Teams meeting without a
lobby); "ask_to_join" goes through the waiting room (Teams' lobby). `continue_step` (Teams only)
shows the "Continue on this browser" page before the pre-join form.
`host_starts_after_s` (Zoom's "waiting for the host to start this meeting"): the host arrives
that many seconds after the first guest pressed Join; until then nobody is admitted or denied
and guests wait (null: the host is there from the start). `require_sign_in` (Zoom) shows the
"authorized attendees only" sign-in page instead of the pre-join form.
`audio_join` (Zoom): "auto" connects the call's audio on entry; "prompt" enters the call without
it, with the "Join Audio by Computer" dialog open (the footer's "Join Audio" reopens it once
closed), and nothing is heard until that is clicked; "disabled" is the same with the dialog's
button disabled (a Zoom bug peers report), so a bot never gets the audio.
`passcode` (Zoom): the meeting's passcode. A page opened without it in its `pwd` shows a passcode
field next to the name, and Join with a wrong one shows "Passcode wrong" and stays on the form.
`captions` (Teams): whether live captions can be turned on (false: the meeting's policy forbids
them). `gallery_size` (Teams): at most that many remote tiles; anyone else has no tile, so only
the captions tell when they speak (null: a tile for everyone).
"""

from __future__ import annotations

import json
import secrets
import time
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from vexa_site.errors import BadRequest, InvalidInput, NotFound
from vexa_site.redis import get_redis

PLATFORMS = ("google_meet", "teams", "zoom")
VARIANTS = ("ask_to_join", "join_now")
ADMIT_MODES = ("auto", "manual", "deny", "never")
AUDIO_JOIN_MODES = ("auto", "prompt", "disabled")
STATE_TTL_S = 24 * 3600
LOCK_TIMEOUT_S = 5
MEDIA_READY_TIMEOUT_S = 10.0
CHAT_MAX_CHARS = 4096


@dataclass(frozen=True)
class Turn:
    """One stretch of speech: `audio` starts playing `at_s` after the bot's admission."""

    audio: str
    at_s: float
    duration_s: float


@dataclass(frozen=True)
class ChatLine:
    """One message a participant posts in the meeting's chat `at_s` after the bot's admission."""

    at_s: float
    text: str


@dataclass(frozen=True)
class Participant:
    """A simulated person in the call, with a stable id, a name, their turns and chat lines."""

    participant_id: str
    name: str
    turns: tuple[Turn, ...]
    join_at_s: float = 0.0
    leave_at_s: float | None = None
    chat: tuple[ChatLine, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A validated scenario (see the module docstring for the JSON form)."""

    platform: str
    native_meeting_id: str
    variant: str = "ask_to_join"
    continue_step: bool = True
    host_starts_after_s: float | None = None
    require_sign_in: bool = False
    audio_join: str = "auto"
    passcode: str | None = None
    captions: bool = True
    gallery_size: int | None = None
    admit: str = "auto"
    admit_after_s: float = 1.0
    lobby_timeout_s: float = 30.0
    participants: tuple[Participant, ...] = ()
    end_after_s: float | None = None
    remove_bot_after_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        """Rebuild a scenario stored by `as_dict` (already validated)."""
        participants = tuple(
            Participant(
                participant_id=p["participant_id"],
                name=p["name"],
                turns=tuple(Turn(**t) for t in p["turns"]),
                join_at_s=p["join_at_s"],
                leave_at_s=p["leave_at_s"],
                chat=tuple(ChatLine(**line) for line in p.get("chat", [])),
            )
            for p in data["participants"]
        )
        return cls(**{**data, "participants": participants})


def _number(raw: Any, where: str, *, allow_none: bool = False) -> float | None:
    if raw is None and allow_none:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise InvalidInput(f"{where} must be a number >= 0")
    return float(raw)


def resolve_audio(path: str) -> Path:
    """An absolute WAV path, or a path under SIMULATOR_MEDIA_DIR (no escaping it)."""
    candidate = Path(path)
    if not candidate.is_absolute():
        base = Path(settings.SIMULATOR_MEDIA_DIR).resolve()
        candidate = (base / candidate).resolve()
        if base not in candidate.parents:
            raise InvalidInput(f"audio {path!r} is outside the simulator media folder")
    if not candidate.is_file():
        raise InvalidInput(f"audio file {path!r} not found")
    return candidate


def wav_duration_s(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (wave.Error, EOFError) as exc:
        raise InvalidInput(f"audio file {str(path)!r} is not a PCM WAV file: {exc}") from None


def _chat_lines(raw: Any, where: str) -> list[ChatLine]:
    if not isinstance(raw, list):
        raise InvalidInput(f"{where} must be a list")
    lines = []
    for index, line in enumerate(raw):
        text = line.get("text") if isinstance(line, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > CHAT_MAX_CHARS:
            raise InvalidInput(f"{where}[{index}].text must be 1-{CHAT_MAX_CHARS} characters")
        at_s = _number(line.get("at_s", 0), f"{where}[{index}].at_s")
        assert at_s is not None
        lines.append(ChatLine(at_s=at_s, text=text))
    return lines


def scenario_parse(data: Any) -> Scenario:
    """Validate scenario JSON into a `Scenario`; raises `InvalidInput` naming the bad field."""
    if not isinstance(data, dict):
        raise InvalidInput("a scenario is a JSON object")
    platform = data.get("platform", "google_meet")
    if platform not in PLATFORMS:
        raise InvalidInput(f"platform must be one of {list(PLATFORMS)}")
    native_id = data.get("native_meeting_id")
    if not isinstance(native_id, str) or not native_id or len(native_id) > 255 or "/" in native_id:
        raise InvalidInput("native_meeting_id must be a non-empty string without '/'")
    variant = data.get("variant", "ask_to_join")
    if variant not in VARIANTS:
        raise InvalidInput(f"variant must be one of {list(VARIANTS)}")
    continue_step = data.get("continue_step", True)
    if not isinstance(continue_step, bool):
        raise InvalidInput("continue_step must be true or false")
    require_sign_in = data.get("require_sign_in", False)
    if not isinstance(require_sign_in, bool):
        raise InvalidInput("require_sign_in must be true or false")
    audio_join = data.get("audio_join", "auto")
    if audio_join not in AUDIO_JOIN_MODES:
        raise InvalidInput(f"audio_join must be one of {list(AUDIO_JOIN_MODES)}")
    passcode = data.get("passcode")
    if passcode is not None and (not isinstance(passcode, str) or not 1 <= len(passcode) <= 32):
        raise InvalidInput("passcode must be null or a string of 1-32 characters")
    captions = data.get("captions", True)
    if not isinstance(captions, bool):
        raise InvalidInput("captions must be true or false")
    gallery_size = data.get("gallery_size")
    if gallery_size is not None and (
        isinstance(gallery_size, bool) or not isinstance(gallery_size, int) or gallery_size < 1
    ):
        raise InvalidInput("gallery_size must be null or a whole number of at least 1")
    admit = data.get("admit", "auto")
    if admit not in ADMIT_MODES:
        raise InvalidInput(f"admit must be one of {list(ADMIT_MODES)}")
    raw_participants = data.get("participants", [])
    if not isinstance(raw_participants, list):
        raise InvalidInput("participants must be a list")
    by_name: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(raw_participants):
        where = f"participants[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
            raise InvalidInput(f"{where} needs a name")
        entry = by_name.setdefault(
            raw["name"],
            {"turns": [], "chat": [], "join_at_s": 0.0, "leave_at_s": None, "index": len(by_name)},
        )
        entry["chat"] += _chat_lines(raw.get("chat", []), f"{where}.chat")
        if "join_at_s" in raw:
            entry["join_at_s"] = _number(raw["join_at_s"], f"{where}.join_at_s")
        if "leave_at_s" in raw:
            entry["leave_at_s"] = _number(raw["leave_at_s"], f"{where}.leave_at_s", allow_none=True)
        if raw.get("audio") is None:
            continue
        if not isinstance(raw["audio"], str):
            raise InvalidInput(f"{where}.audio must be a path")
        audio = resolve_audio(raw["audio"])
        duration = wav_duration_s(audio)
        starts = raw.get("at_s", 0)
        for start in starts if isinstance(starts, list) else [starts]:
            at_s = _number(start, f"{where}.at_s")
            assert at_s is not None
            entry["turns"].append(Turn(audio=str(audio), at_s=at_s, duration_s=duration))
    participants = tuple(
        Participant(
            participant_id=f"spaces/sim/devices/{entry['index'] + 1}",
            name=name,
            turns=tuple(sorted(entry["turns"], key=lambda turn: turn.at_s)),
            join_at_s=entry["join_at_s"],
            leave_at_s=entry["leave_at_s"],
            chat=tuple(sorted(entry["chat"], key=lambda line: line.at_s)),
        )
        for name, entry in by_name.items()
    )
    return Scenario(
        platform=platform,
        native_meeting_id=native_id,
        variant=variant,
        continue_step=continue_step,
        host_starts_after_s=_number(
            data.get("host_starts_after_s"), "host_starts_after_s", allow_none=True
        ),
        require_sign_in=require_sign_in,
        audio_join=audio_join,
        passcode=passcode,
        captions=captions,
        gallery_size=gallery_size,
        admit=admit,
        admit_after_s=_number(data.get("admit_after_s", 1.0), "admit_after_s") or 0.0,
        lobby_timeout_s=_number(data.get("lobby_timeout_s", 30.0), "lobby_timeout_s") or 0.0,
        participants=participants,
        end_after_s=_number(data.get("end_after_s"), "end_after_s", allow_none=True),
        remove_bot_after_s=_number(
            data.get("remove_bot_after_s"), "remove_bot_after_s", allow_none=True
        ),
    )


# --- live state ------------------------------------------------------------------------------


@dataclass
class Guest:
    """Someone who pressed the join button (normally the bot)."""

    guest_id: str
    name: str
    # waiting → admitted | denied | timed_out; admitted → removed | left
    state: str
    joined_at: float
    decided_at: float | None = None
    media_ready_at: float | None = None
    # Times the call's audio was dropped for this guest (host action `drop_audio`: Zoom's
    # footer reads "Join Audio" again and nothing is heard until it is joined again).
    audio_drops: int = 0


@dataclass
class MeetingState:
    """The live state of one simulated meeting."""

    scenario: Scenario
    loaded_at: float
    started_at: float | None = None
    ended_at: float | None = None
    guests: dict[str, Guest] = field(default_factory=dict)
    # When the host arrived (Zoom's "waiting for the host to start"); None: not yet.
    host_started_at: float | None = None
    # What guests posted in the meeting's chat: {"id", "guest_id", "sender", "text", "at"},
    # oldest first.
    chat: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Without `host_starts_after_s` the host is there from the moment the scenario loads.
        if self.host_started_at is None and self.scenario.host_starts_after_s is None:
            self.host_started_at = self.loaded_at

    def to_json(self) -> str:
        return json.dumps(
            {
                "scenario": self.scenario.as_dict(),
                "loaded_at": self.loaded_at,
                "started_at": self.started_at,
                "ended_at": self.ended_at,
                "host_started_at": self.host_started_at,
                "guests": {gid: asdict(g) for gid, g in self.guests.items()},
                "chat": self.chat,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> MeetingState:
        data = json.loads(raw)
        return cls(
            scenario=Scenario.from_dict(data["scenario"]),
            loaded_at=data["loaded_at"],
            started_at=data["started_at"],
            ended_at=data["ended_at"],
            guests={gid: Guest(**g) for gid, g in data["guests"].items()},
            host_started_at=data.get("host_started_at"),
            chat=data.get("chat", []),
        )

    def elapsed_s(self, now: float) -> float | None:
        """Scenario time: seconds since the first admission (None before it)."""
        return None if self.started_at is None else now - self.started_at

    def advance(self, now: float) -> None:
        """Apply what the clock decides: auto admission/denial, lobby timeout, end, removal."""
        sc = self.scenario
        self._host_start_if_due(now)
        for guest in self.guests.values():
            if guest.state != "waiting" or self.host_started_at is None:
                continue
            # Nobody decides before the host is there: the wait counts from the host's arrival.
            since = max(guest.joined_at, self.host_started_at)
            waited = now - since
            if sc.admit == "auto" and waited >= sc.admit_after_s:
                self._admit(guest, since + sc.admit_after_s)
            elif sc.admit == "deny" and waited >= sc.admit_after_s:
                guest.state, guest.decided_at = "denied", since + sc.admit_after_s
            elif waited >= sc.lobby_timeout_s and sc.admit in ("never", "manual"):
                guest.state, guest.decided_at = "timed_out", since + sc.lobby_timeout_s
        self._start_if_due(now)
        if self.started_at is None:
            return
        ends_at = None if sc.end_after_s is None else self.started_at + sc.end_after_s
        if self.ended_at is None and ends_at is not None and now >= ends_at:
            self.ended_at = ends_at
        if sc.remove_bot_after_s is not None and now >= self.started_at + sc.remove_bot_after_s:
            for guest in self.guests.values():
                if guest.state == "admitted":
                    guest.state, guest.decided_at = "removed", now

    def _host_start_if_due(self, now: float) -> None:
        """The late host arrives `host_starts_after_s` after the first guest pressed Join."""
        delay = self.scenario.host_starts_after_s
        if self.host_started_at is not None or delay is None or not self.guests:
            return
        first_join = min(guest.joined_at for guest in self.guests.values())
        if now < first_join + delay:
            return
        self.host_started_at = first_join + delay
        if self.scenario.variant == "join_now":
            for guest in self.guests.values():
                if guest.state == "waiting":
                    self._admit(guest, self.host_started_at)

    def _admit(self, guest: Guest, at: float) -> None:
        guest.state, guest.decided_at = "admitted", at

    def _start_if_due(self, now: float) -> None:
        """Scenario time starts when the first admitted guest's media is connected (its page
        reports it), so that speech is never played into a connection still being set up; a
        page that never reports starts the clock after `MEDIA_READY_TIMEOUT_S` anyway."""
        if self.started_at is not None:
            return
        for guest in self.guests.values():
            if guest.state != "admitted" or guest.decided_at is None:
                continue
            if guest.media_ready_at is not None:
                self.started_at = guest.media_ready_at
            elif now - guest.decided_at >= MEDIA_READY_TIMEOUT_S:
                self.started_at = guest.decided_at + MEDIA_READY_TIMEOUT_S

    def chat_shown(self, now: float, guest: Guest | None = None) -> list[dict[str, Any]]:
        """The meeting's chat up to `now`, oldest first: guests' posts and the participants'
        scripted lines that are due. For `guest`, as their page shows it: Teams keeps the
        meeting's whole chat, Meet and Zoom show only what came after the guest was let in."""
        messages = list(self.chat)
        if self.started_at is not None:
            for p_index, participant in enumerate(self.scenario.participants):
                for l_index, line in enumerate(participant.chat):
                    at = self.started_at + line.at_s
                    if at <= now and (self.ended_at is None or at < self.ended_at):
                        messages.append(
                            {
                                "id": f"p{p_index}-{l_index}",
                                "sender": participant.name,
                                "text": line.text,
                                "at": at,
                            }
                        )
        messages.sort(key=lambda message: message["at"])
        if guest is not None and self.scenario.platform != "teams":
            since = guest.decided_at if guest.state == "admitted" else None
            messages = [m for m in messages if since is not None and m["at"] >= since]
        return messages

    def present(self, now: float) -> list[Participant]:
        """Scenario participants in the call at `now` (nobody before the first admission)."""
        elapsed = self.elapsed_s(now)
        if elapsed is None or self.ended_at is not None:
            return []
        return [
            p
            for p in self.scenario.participants
            if p.join_at_s <= elapsed and (p.leave_at_s is None or elapsed < p.leave_at_s)
        ]


def state_key(platform: str, native_meeting_id: str) -> str:
    return f"vexa:sim:{platform}:{native_meeting_id}"


def scenario_load(scenario: Scenario) -> MeetingState:
    """Start (or restart) the simulated meeting of `scenario`, forgetting any earlier state."""
    state = MeetingState(scenario=scenario, loaded_at=time.time())
    get_redis().set(
        state_key(scenario.platform, scenario.native_meeting_id), state.to_json(), ex=STATE_TTL_S
    )
    return state


def state_get(platform: str, native_meeting_id: str) -> MeetingState | None:
    """The meeting's state after the clock's decisions up to now; None if no scenario."""
    return state_update(platform, native_meeting_id, lambda state, now: None)


def state_update(
    platform: str,
    native_meeting_id: str,
    change: Callable[[MeetingState, float], Any],
) -> MeetingState | None:
    """Read-advance-change-write under a lock, so a host click and a page poll never interleave."""
    client = get_redis()
    key = state_key(platform, native_meeting_id)
    with client.lock(f"{key}:lock", timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_TIMEOUT_S):
        raw = client.get(key)
        if raw is None:
            return None
        state = MeetingState.from_json(raw)
        now = time.time()
        state.advance(now)
        change(state, now)
        client.set(key, state.to_json(), ex=STATE_TTL_S)
        return state


def _require(state: MeetingState | None) -> MeetingState:
    if state is None:
        raise NotFound("No simulated meeting with this id")
    return state


def guest_join(
    platform: str, native_meeting_id: str, *, name: str, passcode: str = ""
) -> tuple[MeetingState, Guest]:
    """A guest pressed the join button: waiting room, or straight in for `join_now`; a meeting
    with a passcode refuses a guest who gave another one (`BadRequest`, nothing changed)."""
    guest = Guest(guest_id=secrets.token_hex(8), name=name[:100], state="waiting", joined_at=0.0)

    def change(state: MeetingState, now: float) -> None:
        expected = state.scenario.passcode
        if expected is not None and passcode != expected:
            raise BadRequest("Passcode wrong")
        guest.joined_at = now
        state.guests[guest.guest_id] = guest
        # "Ask to join" always shows the waiting room first, even with auto-admission after 0 s;
        # nobody gets in before the host has started the meeting.
        if state.scenario.variant == "join_now" and state.host_started_at is not None:
            state._admit(guest, now)

    return _require(state_update(platform, native_meeting_id, change)), guest


HOST_ACTIONS = ("admit", "deny", "remove", "end", "drop_audio")


def host_act(
    platform: str, native_meeting_id: str, *, action: str, guest_id: str | None = None
) -> MeetingState:
    """The host admits, denies or removes a guest (the first fitting one if no id), or ends;
    `drop_audio` disconnects an admitted guest's call audio (Zoom)."""
    if action not in HOST_ACTIONS:
        raise InvalidInput(f"action must be one of {list(HOST_ACTIONS)}")
    wanted = {"admit": "waiting", "deny": "waiting", "remove": "admitted", "drop_audio": "admitted"}

    def change(state: MeetingState, now: float) -> None:
        if action in ("admit", "deny") and state.host_started_at is None:
            raise InvalidInput("the host has not started the meeting yet")
        if action == "end":
            if state.ended_at is None:
                state.ended_at = now
            return
        for guest in state.guests.values():
            if guest.state != wanted[action] or guest_id not in (None, guest.guest_id):
                continue
            if action == "admit":
                state._admit(guest, now)
            elif action == "drop_audio":
                guest.audio_drops += 1
            else:
                guest.state = "denied" if action == "deny" else "removed"
                guest.decided_at = now
            return
        raise InvalidInput(f"no guest to {action}")

    return _require(state_update(platform, native_meeting_id, change))


def guest_leave(platform: str, native_meeting_id: str, *, guest_id: str) -> None:
    def change(state: MeetingState, now: float) -> None:
        guest = state.guests.get(guest_id)
        if guest is not None and guest.state in ("waiting", "admitted"):
            guest.state, guest.decided_at = "left", now

    state_update(platform, native_meeting_id, change)


def guest_chat(
    platform: str, native_meeting_id: str, *, guest_id: str, text: str
) -> dict[str, Any]:
    """A guest in the call posted `text` in the meeting's chat (`InvalidInput` for anyone
    else: the chat is the call's); returns the message as pages show it."""
    message: dict[str, Any] = {}

    def change(state: MeetingState, now: float) -> None:
        guest = state.guests.get(guest_id)
        if guest is None or guest.state != "admitted":
            raise InvalidInput("only a guest in the call can post in its chat")
        message.update(
            id=f"g{len(state.chat)}",
            guest_id=guest_id,
            sender=guest.name,
            text=text[:CHAT_MAX_CHARS],
            at=now,
        )
        state.chat.append(message)

    _require(state_update(platform, native_meeting_id, change))
    return message


def guest_media_ready(platform: str, native_meeting_id: str, *, guest_id: str) -> MeetingState:
    """The guest's page has its media connection up: the scenario clock may start."""

    def change(state: MeetingState, now: float) -> None:
        guest = state.guests.get(guest_id)
        if guest is not None and guest.state == "admitted" and guest.media_ready_at is None:
            guest.media_ready_at = now
            state._start_if_due(now)

    return _require(state_update(platform, native_meeting_id, change))
