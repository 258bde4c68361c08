"""REST for bots (`/bots*`, scope `bot`): parse, call a selector or service, serialize."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from accounts.permissions import HasBotOrTxScope, HasBotScope
from bots import selectors, services
from meetings import selectors as meeting_selectors
from meetings import services as meeting_services
from meetings.models import Meeting, Platform
from meetings.serializers import MeetingSerializer, error_responses, meeting_wire

METADATA_MAX_BYTES = 4096
TIMEOUT_MAX_S = 7 * 24 * 3600


class AcceptedSerializer(serializers.Serializer[Any]):
    message = serializers.CharField()
    meeting_id = serializers.IntegerField()
    status = serializers.CharField()

    class Meta:
        ref_name = "BotAccepted"


def _accepted(message: str, meeting: Meeting) -> Response:
    return Response(
        {"message": message, "meeting_id": meeting.pk, "status": meeting.status},
        status=status.HTTP_202_ACCEPTED,
    )


class AutomaticLeaveInput(serializers.Serializer[Any]):
    waiting_room = serializers.IntegerField(required=False, min_value=1, max_value=TIMEOUT_MAX_S)
    no_one_joined = serializers.IntegerField(required=False, min_value=1, max_value=TIMEOUT_MAX_S)
    everyone_left = serializers.IntegerField(required=False, min_value=1, max_value=TIMEOUT_MAX_S)
    silence = serializers.IntegerField(required=False, min_value=1, max_value=TIMEOUT_MAX_S)
    max_duration = serializers.IntegerField(required=False, min_value=1, max_value=TIMEOUT_MAX_S)
    # Vexa's own names, in milliseconds; converted to the seconds above.
    waiting_room_timeout = serializers.IntegerField(
        required=False, min_value=1000, max_value=TIMEOUT_MAX_S * 1000
    )
    noone_joined_timeout = serializers.IntegerField(
        required=False, min_value=1000, max_value=TIMEOUT_MAX_S * 1000
    )
    everyone_left_timeout = serializers.IntegerField(
        required=False, min_value=1000, max_value=TIMEOUT_MAX_S * 1000
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, int]:
        aliases = {
            "waiting_room_timeout": "waiting_room",
            "noone_joined_timeout": "no_one_joined",
            "everyone_left_timeout": "everyone_left",
        }
        out = {k: v for k, v in attrs.items() if k not in aliases}
        for alias, name in aliases.items():
            if alias in attrs and name not in out:
                out[name] = max(1, attrs[alias] // 1000)
        return out


class RunningBotSerializer(serializers.Serializer[Meeting]):
    container_id = serializers.CharField(source="bot_container_id", allow_null=True)
    meeting_id = serializers.IntegerField(source="pk")
    platform = serializers.CharField()
    native_meeting_id = serializers.CharField()
    status = serializers.CharField()
    bot_name = serializers.SerializerMethodField()
    constructed_meeting_url = serializers.CharField()
    created_at = serializers.DateTimeField()
    start_time = serializers.DateTimeField(allow_null=True)
    join_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def get_bot_name(self, meeting: Meeting) -> str | None:
        name = (meeting.bot_config or {}).get("bot_name")
        return name if isinstance(name, str) else None


class BotApi(APIView):
    permission_classes = [HasBotScope]


class BotCreateApi(BotApi):
    class Input(serializers.Serializer[Any]):
        platform = serializers.ChoiceField(choices=Platform.choices, required=False)
        native_meeting_id = serializers.CharField(required=False, max_length=255)
        passcode = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=255
        )
        meeting_url = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=2048
        )
        bot_name = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=100
        )
        language = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=16
        )
        task = serializers.ChoiceField(choices=services.TASKS, required=False, allow_null=True)
        join_at = serializers.DateTimeField(required=False, allow_null=True)
        automatic_leave = AutomaticLeaveInput(required=False, allow_null=True)
        recording_enabled = serializers.BooleanField(required=False, default=True)
        transcribe_enabled = serializers.BooleanField(required=False, default=True)
        metadata = serializers.DictField(required=False, allow_null=True)
        hotwords = serializers.ListField(
            child=serializers.CharField(max_length=100),
            required=False,
            allow_null=True,
            max_length=100,
        )
        prompt = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=2000
        )
        chat_on_join = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=services.CHAT_MAX_CHARS
        )

        def validate_metadata(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
            if value is not None and len(json.dumps(value)) > METADATA_MAX_BYTES:
                raise serializers.ValidationError(
                    f"metadata must be at most {METADATA_MAX_BYTES} bytes of JSON"
                )
            return value

        class Meta:
            ref_name = "BotCreateInput"

    @extend_schema(
        operation_id="bots_create",
        summary="Create Bot",
        description=(
            "Send a bot to a meeting. Give `platform` + `native_meeting_id` (+ `passcode`), or "
            "a pasted `meeting_url` (parsed into those). Ids are checked per platform (400 "
            "`Invalid meeting ID format ...`); field type errors are 422. 201 with the meeting "
            "(`status: requested`); the bot is enqueued once the request's transaction commits. "
            "409 when a live bot exists for this meeting; 429 over the user's "
            "`max_concurrent_bots` (0 = unlimited); 507 when every slot of the running bot "
            "hosts holds a bot (retry after 30 s, or schedule). `join_at` in the future "
            "schedules the bot (not counted against either until it starts). `language` is a "
            "Whisper code (omit to auto-detect) that the live model can transcribe (422 for "
            "any but `en` with an English-only model such as the bundled tiny.en). "
            "`automatic_leave` takes seconds (`waiting_room`, "
            "`no_one_joined`, `everyone_left`, `silence`, `max_duration`; Vexa's `*_timeout` "
            "millisecond names are accepted too). `metadata` (at most 4 KiB of JSON) is echoed "
            "back. `chat_on_join` (at most 4096 characters): a message the bot posts in the "
            "meeting's chat once it is first let in. With an `Idempotency-Key` header, "
            "repeating the same body within 24 h returns the first response (header "
            "`Idempotent-Replayed: true`) and starts no second bot; the same key with a "
            "different body is a 422. Failed requests are not remembered."
        ),
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)
        ],
        request=Input,
        responses={
            201: MeetingSerializer,
            **error_responses(
                e400="Invalid meeting ID format, passcode or meeting_url (the detail says which)",
                e401="Missing or invalid API key",
                e403="The key lacks the `bot` scope",
                e409="A bot is already running for this meeting",
                e422="A wrong field type or value, or an Idempotency-Key reused with another body",
                e429="Over max_concurrent_bots (Retry-After: 30), or over the rate limit",
                e507="No bot slot of the running bot hosts is free (Retry-After: 30)",
            ),
        },
        examples=[
            OpenApiExample(
                "Google Meet",
                request_only=True,
                value={
                    "platform": "google_meet",
                    "native_meeting_id": "abc-defg-hij",
                    "bot_name": "Vexa Transcription Bot",
                    "language": "en",
                },
            ),
            OpenApiExample(
                "Pasted Teams link",
                request_only=True,
                value={"meeting_url": "https://teams.live.com/meet/9398850880426?p=RBZCWdxyp85"},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        user = request_user(request)
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        params = dict(body.validated_data)

        def create() -> tuple[int, dict[str, Any], Meeting]:
            meeting = services.bot_create(user=user, **params)
            return status.HTTP_201_CREATED, meeting_wire(meeting), meeting

        key = request.headers.get("Idempotency-Key")
        if key is None:
            code, data, _ = create()
            return Response(data, status=code)
        result = meeting_services.idempotent_call(
            user=user,
            scope="POST /bots",
            key=key,
            fingerprint=meeting_services.request_fingerprint(request.data),
            call=create,
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(result.body, status=result.status, headers=headers)


class BotStatusApi(BotApi):
    class Output(serializers.Serializer[Any]):
        running_bots = RunningBotSerializer(many=True)

        class Meta:
            ref_name = "BotStatus"

    @extend_schema(
        operation_id="bots_status",
        summary="Get Bot Status",
        description=(
            "The caller's bots that are not finished (`requested` through `stopping`, "
            "scheduled ones included), newest first. `container_id` is the worker's id for "
            "the bot run (null until a worker picks it up)."
        ),
        responses={
            200: Output,
            **error_responses(
                e401="Missing or invalid API key", e403="The key lacks the `bot` scope"
            ),
        },
    )
    def get(self, request: Request) -> Response:
        bots = selectors.bot_running_list(user=request_user(request))
        return Response(self.Output({"running_bots": bots}).data)


class BotDetailApi(BotApi):
    @extend_schema(
        operation_id="bots_stop",
        summary="Stop Bot",
        description=(
            "202: the meeting goes to `stopping`; the running bot leaves and marks it "
            "`completed` (`stopped`, or `stopped_before_admission` if it was not yet admitted). "
            "A bot that has not started yet is never started: its meeting is `completed` "
            "(`stopped_before_admission`) at once. 404 `Bot not found` when no live bot."
        ),
        request=None,
        responses={
            202: AcceptedSerializer,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `bot` scope",
                e404="Bot not found",
                e422="Unknown platform",
            ),
        },
    )
    def delete(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        meeting = selectors.bot_get_live(
            user=request_user(request), platform=platform, native_meeting_id=native_meeting_id
        )
        meeting = services.bot_stop(meeting_id=meeting.pk)
        return _accepted("Stop request accepted and is being processed.", meeting)


class BotConfigApi(BotApi):
    class Input(serializers.Serializer[Any]):
        language = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=16
        )
        task = serializers.ChoiceField(choices=services.TASKS, required=False)
        bot_name = serializers.CharField(required=False, max_length=100)

        class Meta:
            ref_name = "BotConfigInput"

    @extend_schema(
        operation_id="bots_update_config",
        summary="Update Bot Configuration",
        description=(
            "Change `language` (a Whisper code the live model can transcribe, or null to "
            "auto-detect), `task` or `bot_name` of an active bot. 202: delivered to the running "
            "bot, which applies it to the "
            "audio that follows. 409 if the bot is not `active`; 404 if there is no live bot."
        ),
        request=Input,
        responses={
            202: AcceptedSerializer,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `bot` scope",
                e404="Bot not found",
                e409="The bot is not active",
                e422="Invalid language, task or bot_name",
            ),
        },
    )
    def put(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        meeting = selectors.bot_get_live(
            user=request_user(request), platform=platform, native_meeting_id=native_meeting_id
        )
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        meeting = services.bot_update_config(
            meeting_id=meeting.pk, changes=dict(body.validated_data)
        )
        return _accepted("Configuration update accepted", meeting)


class BotChatMessageSerializer(serializers.Serializer[Any]):
    """A message the bot was asked to post in the meeting's chat, and what became of it."""

    id = serializers.IntegerField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=["pending", "sent", "failed"])
    error = serializers.CharField(allow_blank=True)


class ChatEntrySerializer(serializers.Serializer[Any]):
    """One message of the meeting's chat: a participant's, or the bot's own (`from_bot`)."""

    sender = serializers.CharField()
    text = serializers.CharField()
    timestamp = serializers.DateTimeField()
    from_bot = serializers.BooleanField()


class BotChatApi(BotApi):
    def get_permissions(self) -> Sequence[BasePermission]:
        # Reading the chat is reading the meeting: a transcript key may too; posting is the bot's.
        if self.request.method == "GET":
            return [HasBotOrTxScope()]
        return [HasBotScope()]

    class Input(serializers.Serializer[Any]):
        text = serializers.CharField(max_length=services.CHAT_MAX_CHARS)

        class Meta:
            ref_name = "BotChatInput"

    class ListOutput(serializers.Serializer[Any]):
        meeting_id = serializers.IntegerField()
        messages = BotChatMessageSerializer(many=True)
        chat = ChatEntrySerializer(many=True)

        class Meta:
            ref_name = "BotChatMessages"

    @extend_schema(
        operation_id="bots_chat_send",
        summary="Post in the Meeting's Chat",
        description=(
            "The bot posts `text` (1 to 4096 characters) in the meeting's chat, to everyone, "
            "as Vexa's interactive bots do: an announcement that the meeting is transcribed, a "
            "link, a summary. 202 once the bot has it to post; it posts messages in order while "
            "it is in the call, and `GET` says whether each was sent. 409 "
            "if the bot is not `active`; 404 if there is no live bot."
        ),
        request=Input,
        responses={
            202: AcceptedSerializer,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `bot` scope",
                e404="Bot not found",
                e409="The bot is not active",
                e422="Empty or too long text",
            ),
        },
    )
    def post(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        meeting = selectors.bot_get_live(
            user=request_user(request), platform=platform, native_meeting_id=native_meeting_id
        )
        body = self.Input(data=request.data)
        body.is_valid(raise_exception=True)
        services.bot_chat_send(meeting_id=meeting.pk, text=body.validated_data["text"])
        return _accepted("Chat message sent", meeting)

    @extend_schema(
        operation_id="bots_chat_list",
        summary="Read the Meeting's Chat",
        description=(
            "For the newest meeting with this platform id: `messages`, what its bot was asked to "
            "post in the chat, oldest first: `pending` (waiting for the bot to be in the call), "
            "`sent`, or `failed` with the reason; and `chat`, the meeting's chat as the bot saw "
            "it, oldest first: what participants posted while it was in the call (read from the "
            "chat's panel, which it opens on joining; `timestamp` is when it saw the message) "
            "and what it posted itself (`from_bot`). Live, each is also a `chat.message` event "
            "on the WebSocket and SSE streams. Scope `bot` or `tx`."
        ),
        responses={
            200: ListOutput,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key has neither the `bot` nor the `tx` scope",
                e404="Meeting not found",
                e422="Unknown platform",
            ),
        },
    )
    def get(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        meeting = meeting_selectors.meeting_get_by_native(
            user=request_user(request),
            platform=platform,
            native_meeting_id=native_meeting_id,
            meeting_id=None,
        )
        messages = selectors.bot_chat_list(meeting=meeting)
        chat = selectors.meeting_chat(meeting=meeting, bot_messages=messages)
        return Response(
            self.ListOutput({"meeting_id": meeting.pk, "messages": messages, "chat": chat}).data
        )
