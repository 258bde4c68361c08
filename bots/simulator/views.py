"""The meeting simulator over HTTP: the platform pages a bot opens, their JSON, the host's controls.

Everything here answers 404 while `SIMULATOR_ENABLED` is off (production default). The pages the
bot sees need no authentication (like a meeting link); loading scenarios and acting as the host
need the admin key (`X-Admin-API-Key`) or a staff session (the host control page).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import AdminPrincipal, admin_key_is_valid
from bots.simulator import scenarios
from bots.simulator.scenarios import MeetingState


def _require_enabled() -> None:
    if not settings.SIMULATOR_ENABLED:
        raise Http404("Not found")


def simulator_only(view: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        _require_enabled()
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


class SimulatorApi(APIView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        _require_enabled()
        super().initial(request, *args, **kwargs)


class PageApi(SimulatorApi):
    """JSON the simulated platform page itself calls: public, like the meeting link."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]


class HostAuthentication(BaseAuthentication):
    """The admin key when presented; otherwise Django's session (with its CSRF check)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        presented = request.headers.get("X-Admin-API-Key", "")
        if presented:
            if not admin_key_is_valid(presented):
                raise exceptions.PermissionDenied("Invalid or missing admin token.")
            return AdminPrincipal(), None
        return SessionAuthentication().authenticate(request)


class HostAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the host endpoints as admin-key endpoints (the staff session is for the page)."""

    target_class = HostAuthentication
    name = "SimulatorHostAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Admin-API-Key"}


class IsHost(BasePermission):
    message = "Invalid or missing admin token."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(getattr(user, "is_admin_key", False) or getattr(user, "is_staff", False))


class HostApi(SimulatorApi):
    authentication_classes = [HostAuthentication]
    permission_classes = [IsHost]


def _media_url(platform: str, native_id: str, p_index: int, t_index: int) -> str:
    return f"/simulator/media/{platform}/{native_id}/{p_index}/{t_index}"


def _state_payload(
    state: MeetingState, now: float, guest_id: str | None, *, turns: bool = True
) -> dict[str, Any]:
    """What a meeting page sees; its 4-a-second poll leaves out the turns (`turns=False`): an
    hour of scripted speech made each poll ~50 KB, and the bot's renderer grew 18 MB a minute
    reading them."""
    sc = state.scenario
    guest = state.guests.get(guest_id or "")
    present = {p.participant_id for p in state.present(now)}
    return {
        "now": now,
        "started_at": state.started_at,
        "ended": state.ended_at is not None,
        "host_started": state.host_started_at is not None,
        "variant": sc.variant,
        "guest": None
        if guest is None
        else {"guest_id": guest.guest_id, "state": guest.state, "audio_drops": guest.audio_drops},
        "chat": [] if guest is None else state.chat_shown(now, guest),
        "participants": [
            {
                "participant_id": p.participant_id,
                "name": p.name,
                "present": p.participant_id in present,
                **(
                    {
                        "turns": [
                            {
                                "url": _media_url(sc.platform, sc.native_meeting_id, pi, ti),
                                "at_s": turn.at_s,
                                "duration_s": turn.duration_s,
                            }
                            for ti, turn in enumerate(p.turns)
                        ]
                    }
                    if turns
                    else {}
                ),
            }
            for pi, p in enumerate(sc.participants)
        ],
    }


def _host_payload(state: MeetingState, now: float) -> dict[str, Any]:
    return {
        "scenario": state.scenario.as_dict(),
        "elapsed_s": state.elapsed_s(now),
        "ended": state.ended_at is not None,
        "host_started": state.host_started_at is not None,
        "guests": [
            {"guest_id": g.guest_id, "name": g.name, "state": g.state}
            for g in state.guests.values()
        ],
        "present": [p.name for p in state.present(now)],
        "chat": state.chat_shown(now),
    }


# --- the pages a bot opens -------------------------------------------------------------------


@simulator_only
def meeting_page(request: HttpRequest, platform: str, native_meeting_id: str) -> HttpResponse:
    """The platform's meeting page (pre-join → lobby → call; Teams may ask "Continue" first)."""
    if platform not in scenarios.PLATFORMS:
        raise Http404("Not found")
    state = scenarios.state_get(platform, native_meeting_id)
    join_now = platform == "teams" or (state is not None and state.scenario.variant == "join_now")
    return render(
        request,
        f"simulator/{platform}.html",
        {
            "native_meeting_id": native_meeting_id,
            "platform": platform,
            "not_found": state is None,
            # Teams' button reads "Join now" whether or not a lobby follows.
            "join_label": "Join now" if join_now else "Ask to join",
            "continue_step": state is not None and state.scenario.continue_step,
            "require_sign_in": state is not None and state.scenario.require_sign_in,
            "audio_join": state.scenario.audio_join if state is not None else "auto",
            "captions": state is None or state.scenario.captions,
            "gallery_size": state.scenario.gallery_size if state is not None else None,
            # Zoom asks for the passcode when the link does not carry it.
            "needs_passcode": state is not None
            and state.scenario.passcode is not None
            and request.GET.get("pwd") != state.scenario.passcode,
        },
    )


@simulator_only
def media(
    request: HttpRequest, platform: str, native_meeting_id: str, p_index: int, t_index: int
) -> FileResponse:
    state = scenarios.state_get(platform, native_meeting_id)
    if state is None:
        raise Http404("Not found")
    try:
        turn = state.scenario.participants[p_index].turns[t_index]
    except IndexError:
        raise Http404("Not found") from None
    return FileResponse(open(turn.audio, "rb"), content_type="audio/wav")


class MeetingStateApi(PageApi):
    @extend_schema(exclude=True)
    def get(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        state = scenarios.state_get(platform, native_meeting_id)
        if state is None:
            raise exceptions.NotFound("No simulated meeting with this id")
        return Response(
            _state_payload(
                state,
                time.time(),
                request.query_params.get("guest"),
                turns=request.query_params.get("turns") == "1",
            )
        )


class MeetingJoinApi(PageApi):
    class Input(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100)
        passcode = serializers.CharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(exclude=True)
    def post(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        state, guest = scenarios.guest_join(
            platform,
            native_meeting_id,
            name=body.validated_data["name"],
            passcode=body.validated_data.get("passcode", ""),
        )
        return Response(_state_payload(state, time.time(), guest.guest_id))


class MeetingLeaveApi(PageApi):
    class Input(serializers.Serializer[Any]):
        guest_id = serializers.CharField(max_length=64)

    @extend_schema(exclude=True)
    def post(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        scenarios.guest_leave(platform, native_meeting_id, guest_id=body.validated_data["guest_id"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeetingChatApi(PageApi):
    class Input(serializers.Serializer[Any]):
        guest_id = serializers.CharField(max_length=64)
        text = serializers.CharField(max_length=scenarios.CHAT_MAX_CHARS)

    @extend_schema(exclude=True)
    def post(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        message = scenarios.guest_chat(platform, native_meeting_id, **body.validated_data)
        return Response(message, status=status.HTTP_201_CREATED)


class MeetingMediaReadyApi(PageApi):
    class Input(serializers.Serializer[Any]):
        guest_id = serializers.CharField(max_length=64)

    @extend_schema(exclude=True)
    def post(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        guest_id = body.validated_data["guest_id"]
        state = scenarios.guest_media_ready(platform, native_meeting_id, guest_id=guest_id)
        return Response(_state_payload(state, time.time(), guest_id))


# --- scenarios and the host ------------------------------------------------------------------


class ScenariosApi(HostApi):
    @extend_schema(
        operation_id="simulator_scenarios_load",
        summary="Load a simulated meeting (development and tests)",
        description=(
            "Starts or restarts the simulated meeting described by the scenario (see "
            "`bots/simulator/scenarios.py`). Admin key. 404 unless SIMULATOR_ENABLED."
        ),
        request=dict[str, Any],
        responses={201: dict[str, Any]},
    )
    def post(self, request: Request) -> Response:
        scenario = scenarios.scenario_parse(request.data)
        state = scenarios.scenario_load(scenario)
        base = f"/simulator/{scenario.platform}/{scenario.native_meeting_id}"
        return Response(
            {
                **_host_payload(state, time.time()),
                "meeting_url": base,
                "host_url": f"/simulator/host/{scenario.platform}/{scenario.native_meeting_id}",
            },
            status=status.HTTP_201_CREATED,
        )


class HostMeetingApi(HostApi):
    @extend_schema(
        operation_id="simulator_meeting_get",
        summary="A simulated meeting's live state (guests, who is present)",
        responses=dict[str, Any],
    )
    def get(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        state = scenarios.state_get(platform, native_meeting_id)
        if state is None:
            raise exceptions.NotFound("No simulated meeting with this id")
        return Response(_host_payload(state, time.time()))


class HostActionApi(HostApi):
    class Input(serializers.Serializer[Any]):
        class Meta:
            ref_name = "SimulatorHostActionInput"

        guest_id = serializers.CharField(max_length=64, required=False)

    @extend_schema(
        operation_id="simulator_host_action",
        summary="Act as the host: admit, deny or remove a guest, or end the meeting",
        request=Input,
        responses=dict[str, Any],
    )
    def post(
        self, request: Request, platform: str, native_meeting_id: str, action: str
    ) -> Response:
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        state = scenarios.host_act(
            platform,
            native_meeting_id,
            action=action,
            guest_id=body.validated_data.get("guest_id"),
        )
        return Response(_host_payload(state, time.time()))


@simulator_only
@staff_member_required
def host_page(request: HttpRequest, platform: str, native_meeting_id: str) -> HttpResponse:
    """The host's control page: who waits, who is in, Admit / Deny / Remove / End."""
    return render(
        request,
        "simulator/host.html",
        {"platform": platform, "native_meeting_id": native_meeting_id},
    )
