"""The meeting wire shape (seed 002), shared by `/meetings`, `/bots` and `/transcripts`."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from meetings.models import Meeting

# Never echoed: the passcode is a secret of the meeting (it is also removed on delete).
_PRIVATE_BOT_CONFIG = frozenset({"passcode"})


class MeetingSerializer(serializers.ModelSerializer[Meeting]):
    """A meeting as Vexa shows it, plus the bot settings it was created with.

    `data` carries the user's metadata (`name`, `notes`, `participants`, `languages`), the
    status history (`status_transition`), completion or failure details, who the bot saw in
    the call (`attendance`: `name`, `joined_at`, `left_at`) and why it had to join again
    (`bot_rejoins`: `timestamp`, `cause`, and `resumed_at` once it was back in the call).
    """

    metadata = serializers.SerializerMethodField()
    bot_config = serializers.SerializerMethodField()

    class Meta:
        model = Meeting
        fields: tuple[str, ...] = (
            "id",
            "platform",
            "native_meeting_id",
            "constructed_meeting_url",
            "status",
            "start_time",
            "end_time",
            "bot_container_id",
            "data",
            "created_at",
            "updated_at",
            "join_at",
            "metadata",
            "bot_config",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_metadata(self, meeting: Meeting) -> dict[str, Any]:
        metadata = (meeting.bot_config or {}).get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_bot_config(self, meeting: Meeting) -> dict[str, Any]:
        config = meeting.bot_config or {}
        shown = {k: v for k, v in config.items() if k not in _PRIVATE_BOT_CONFIG}
        passcode = config.get("passcode")
        if passcode and isinstance(shown.get("meeting_url"), str):
            # A pasted link carries the passcode too (`?p=`, `?pwd=`).
            shown["meeting_url"] = _without_query_value(shown["meeting_url"], str(passcode))
        return shown


def _without_query_value(url: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if v != value]
    return urlunsplit(parts._replace(query=urlencode(query)))


def meeting_wire(meeting: Meeting) -> dict[str, Any]:
    return dict(MeetingSerializer(meeting).data)


class ErrorSerializer(serializers.Serializer[Any]):
    """Every error but validation: `{"detail": "..."}`."""

    detail = serializers.CharField()

    class Meta:
        ref_name = "Error"


class FieldErrorSerializer(serializers.Serializer[Any]):
    loc = serializers.ListField(child=serializers.CharField())
    msg = serializers.CharField()
    type = serializers.CharField()

    class Meta:
        ref_name = "FieldError"


class ValidationErrorSerializer(serializers.Serializer[Any]):
    """422: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}` (FastAPI's shape)."""

    detail = FieldErrorSerializer(many=True)

    class Meta:
        ref_name = "ValidationError"


def error_responses(**described: str) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for error codes: `error_responses(e404="Meeting not found", ...)`."""
    out: dict[int, OpenApiResponse] = {}
    for name, description in described.items():
        code = int(name.removeprefix("e"))
        schema = ValidationErrorSerializer if code == 422 else ErrorSerializer
        out[code] = OpenApiResponse(schema, description=description)
    return out
