"""REST for transcripts (`/transcripts*`, scope `tx`) and the public share text (no auth)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from accounts.permissions import HasTxScope
from accounts.throttling import PublicRateThrottle
from meetings import selectors as meeting_selectors
from meetings.api import MEETING_ID_PARAM, meeting_from_path, parse_query
from meetings.serializers import MeetingSerializer, error_responses
from transcripts import exports, selectors, services
from vexa_site.errors import NotFound

PUBLIC_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


class IgnoreFormatParam(DefaultContentNegotiation):
    """`?format=` picks an export here, not a DRF renderer (DRF would 404 on `txt`), and an
    `Accept: text/plain` client is not refused with 406: these views answer text themselves."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class SegmentSerializer(serializers.Serializer[Any]):
    """Schema of `transcripts.serializers.segment_wire` (the shared segment shape)."""

    segment_id = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()
    end_time = serializers.FloatField()
    text = serializers.CharField()
    speaker = serializers.CharField(allow_null=True)
    language = serializers.CharField(allow_null=True)
    completed = serializers.BooleanField()
    absolute_start_time = serializers.DateTimeField()
    absolute_end_time = serializers.DateTimeField()
    session_uid = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TranscriptSerializer(MeetingSerializer):
    segments = SegmentSerializer(many=True)

    class Meta(MeetingSerializer.Meta):
        fields = (*MeetingSerializer.Meta.fields, "segments")


class TranscriptApi(APIView):
    permission_classes = [HasTxScope]
    content_negotiation_class = IgnoreFormatParam

    class Input(serializers.Serializer[Any]):
        meeting_id = serializers.IntegerField(required=False, min_value=1)
        format = serializers.ChoiceField(choices=sorted(exports.FORMATS), required=False)

        class Meta:
            ref_name = "TranscriptQuery"

    @extend_schema(
        operation_id="transcripts_get",
        summary="Get Transcripts",
        description=(
            "The meeting (with `data.status_transition`) and its segments in chronological "
            "order; during a meeting the latest segments may be drafts (`completed: false`). "
            "The newest meeting with this id, or `meeting_id`. `?format=txt|srt|vtt|json` "
            "downloads an export instead (txt is the share-link layout)."
        ),
        parameters=[Input],
        responses={
            (200, "application/json"): TranscriptSerializer,
            (200, "text/plain"): OpenApiTypes.STR,
            (200, "application/x-subrip"): OpenApiTypes.STR,
            (200, "text/vtt"): OpenApiTypes.STR,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting not found",
                e422="Invalid query",
            ),
        },
    )
    def get(self, request: Request, platform: str, native_meeting_id: str) -> Any:
        params = parse_query(self.Input, request)
        meeting = meeting_selectors.meeting_get_by_native(
            user=request_user(request),
            platform=platform,
            native_meeting_id=native_meeting_id,
            meeting_id=params.get("meeting_id"),
        )
        segments = selectors.segment_list(meeting=meeting)
        fmt = params.get("format")
        if fmt is None:
            return Response(exports.transcript_document(meeting, segments))
        return exports.export_response(meeting, segments, fmt)


class ShareApi(APIView):
    permission_classes = [HasTxScope]

    class CreateInput(serializers.Serializer[Any]):
        meeting_id = serializers.IntegerField(required=False, min_value=1)
        ttl_seconds = serializers.IntegerField(
            required=False, min_value=60, default=settings.SHARE_LINK_DEFAULT_TTL_S
        )

        def validate_ttl_seconds(self, value: int) -> int:
            if value > settings.SHARE_LINK_MAX_TTL_S:
                raise serializers.ValidationError(
                    f"Ensure this value is less than or equal to {settings.SHARE_LINK_MAX_TTL_S}."
                )
            return value

        class Meta:
            ref_name = "ShareCreateQuery"

    class RevokeInput(serializers.Serializer[Any]):
        meeting_id = serializers.IntegerField(required=False, min_value=1)
        share_id = serializers.CharField(required=False, max_length=64)

        class Meta:
            ref_name = "ShareRevokeQuery"

    class ShareOutput(serializers.Serializer[Any]):
        share_id = serializers.CharField()
        url = serializers.CharField()
        expires_at = serializers.DateTimeField()
        expires_in_seconds = serializers.IntegerField()

        class Meta:
            ref_name = "ShareLink"

    class RevokeOutput(serializers.Serializer[Any]):
        revoked = serializers.IntegerField()

        class Meta:
            ref_name = "ShareRevoked"

    @extend_schema(
        operation_id="transcripts_share_create",
        summary="Create Transcript Share Link",
        description=(
            "A public, unauthenticated URL serving the transcript as plain text, for AI tools. "
            f"`ttl_seconds` defaults to {settings.SHARE_LINK_DEFAULT_TTL_S} (60 to "
            f"{settings.SHARE_LINK_MAX_TTL_S}). The id carries 192 random bits. The URL is "
            "built on `PUBLIC_BASE_URL`."
        ),
        parameters=[CreateInput],
        request=None,
        responses={
            200: ShareOutput,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting not found",
                e409="The meeting's data was deleted",
                e422="ttl_seconds out of range",
            ),
        },
    )
    def post(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        params = parse_query(self.CreateInput, request)
        meeting = meeting_from_path(request, platform, native_meeting_id)
        ttl = params["ttl_seconds"]
        link = services.share_create(meeting=meeting, ttl_seconds=ttl)
        return Response(
            self.ShareOutput(
                {
                    "share_id": link.share_id,
                    "url": services.share_url(link.share_id),
                    "expires_at": link.expires_at,
                    "expires_in_seconds": ttl,
                }
            ).data
        )

    @extend_schema(
        operation_id="transcripts_share_revoke",
        summary="Revoke Transcript Share Links",
        description=(
            "Revoke the share link `share_id` of this meeting, or all of its links when "
            "`share_id` is omitted. Revoked links answer 404 at once. Safe to retry."
        ),
        parameters=[RevokeInput, MEETING_ID_PARAM],
        request=None,
        responses={
            200: RevokeOutput,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting or share link not found",
            ),
        },
    )
    def delete(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        params = parse_query(self.RevokeInput, request)
        meeting = meeting_from_path(request, platform, native_meeting_id)
        revoked = services.share_revoke(meeting=meeting, share_id=params.get("share_id"))
        return Response({"revoked": revoked})


class PublicTranscriptApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [PublicRateThrottle]
    content_negotiation_class = IgnoreFormatParam

    @extend_schema(
        operation_id="public_transcript_text",
        summary="Public Transcript Text",
        description=(
            "No authentication. The transcript of a share link as `text/plain` in the "
            "cookbook's layout (`Meeting Transcript`, `Title`, `Date`, then "
            "`[HH:MM:SS] Speaker: text` lines). `Cache-Control: no-store`, "
            "`X-Robots-Tag: noindex`. 404 once the link expired or was revoked."
        ),
        auth=[],
        responses={
            (200, "text/plain"): OpenApiTypes.STR,
            **error_responses(e404="Unknown, expired or revoked share link", e429="Rate limit"),
        },
    )
    def get(self, request: Request, share_id: str) -> HttpResponse:
        try:
            link = selectors.share_get_public(share_id=share_id)
        except NotFound as exc:
            exc.headers.update(PUBLIC_HEADERS)
            raise
        segments = selectors.segment_list(meeting=link.meeting)
        response = HttpResponse(
            exports.transcript_txt(link.meeting, segments),
            content_type=exports.FORMATS["txt"].content_type,
        )
        for name, value in PUBLIC_HEADERS.items():
            response[name] = value
        return response


class SpeakerTalkTimeSerializer(serializers.Serializer[Any]):
    """Schema of `exports.SpeakerTime`."""

    speaker = serializers.CharField()
    seconds = serializers.FloatField()
    words = serializers.IntegerField()
    share = serializers.FloatField()


class SpeakersApi(APIView):
    permission_classes = [HasTxScope]

    class RenameInput(serializers.Serializer[Any]):
        speaker = serializers.CharField(max_length=255)
        name = serializers.CharField(max_length=255, validators=[services.speaker_name_check])

        class Meta:
            ref_name = "SpeakerRenameInput"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["speaker"] == attrs["name"]:
                raise serializers.ValidationError({"name": ["It is the speaker's name already."]})
            return attrs

    class ListOutput(serializers.Serializer[Any]):
        meeting_id = serializers.IntegerField()
        speakers = SpeakerTalkTimeSerializer(many=True)
        speaker_names = serializers.DictField(child=serializers.CharField())

        class Meta:
            ref_name = "MeetingSpeakers"

    class RenameOutput(serializers.Serializer[Any]):
        meeting_id = serializers.IntegerField()
        speaker = serializers.CharField()
        name = serializers.CharField()
        segments = serializers.IntegerField()
        speaker_names = serializers.DictField(child=serializers.CharField())

        class Meta:
            ref_name = "SpeakerRenamed"

    @extend_schema(
        operation_id="meetings_speakers_list",
        summary="List a Meeting's Speakers",
        description=(
            "Who spoke in the final transcript and how much (`seconds` of speech, `words`, "
            "`share` of all the speech, 0-1), most first; `speaker_names` holds the renames "
            "in force (as the transcription names a speaker -> as the user named them)."
        ),
        responses={
            200: ListOutput,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting not found",
            ),
        },
    )
    def get(self, request: Request, meeting_id: int) -> Response:
        meeting = meeting_selectors.meeting_get(user=request_user(request), meeting_id=meeting_id)
        talk = exports.speaker_talk_times(selectors.segment_list(meeting=meeting))
        body = {
            "meeting_id": meeting.pk,
            "speakers": talk,
            "speaker_names": services.speaker_names(meeting),
        }
        return Response(self.ListOutput(body).data)

    @extend_schema(
        operation_id="meetings_speakers_rename",
        summary="Rename a Speaker",
        description=(
            "Name `speaker` `name` throughout the meeting's transcript: its segments and words "
            "now, and what the live transcription or the post-meeting pass writes for them "
            "later. `Unknown` names the lines nobody was found speaking; a name the transcript "
            "already has merges the two speakers. Changed segments are published again over "
            "WebSocket/SSE (`transcript.finalized` / `transcript.mutable`, same `segment_id`, "
            "newer `updated_at`). `attendance` keeps the names the platform showed."
        ),
        request=RenameInput,
        responses={
            200: RenameOutput,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting not found",
                e409="The meeting's data was deleted",
                e422="No line of the transcript is said by `speaker`, or the names are invalid",
            ),
        },
    )
    def post(self, request: Request, meeting_id: int) -> Response:
        body = self.RenameInput(data=request.data)
        body.is_valid(raise_exception=True)
        meeting = meeting_selectors.meeting_get(user=request_user(request), meeting_id=meeting_id)
        speaker, name = body.validated_data["speaker"], body.validated_data["name"]
        renamed = services.speaker_rename(meeting_id=meeting.pk, speaker=speaker, name=name)
        out = {
            "meeting_id": meeting.pk,
            "speaker": speaker,
            "name": name,
            "segments": renamed.segments,
            "speaker_names": renamed.names,
        }
        return Response(self.RenameOutput(out).data)
