"""REST for recordings: list, detail, download (with HTTP Range), delete. Scope `tx`."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from accounts.permissions import HasTxScope
from meetings import recordings
from meetings.models import Platform, Recording, RecordingStatus
from meetings.retention import recording_expires_at
from vexa_site.input_guard import MAX_PAGE

CHUNK_BYTES = 64 * 1024


class RecordingSerializer(serializers.ModelSerializer[Recording]):
    meeting_id = serializers.IntegerField()
    session_uid = serializers.CharField(source="session.session_uid", allow_null=True)
    platform = serializers.CharField(source="meeting.platform")
    native_meeting_id = serializers.CharField(source="meeting.native_meeting_id")
    download_url = serializers.SerializerMethodField()
    expires_at = serializers.SerializerMethodField(
        help_text="When retention deletes this audio (RECORDING_RETENTION_DAYS or "
        "MEETING_RETENTION_DAYS); null while it is kept"
    )

    class Meta:
        model = Recording
        fields = (
            "id",
            "meeting_id",
            "session_uid",
            "platform",
            "native_meeting_id",
            "status",
            "content_type",
            "size_bytes",
            "duration_s",
            "created_at",
            "updated_at",
            "completed_at",
            "download_url",
            "expires_at",
        )

    def get_download_url(self, recording: Recording) -> str:
        return f"/recordings/{recording.pk}/download"

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_expires_at(self, recording: Recording) -> str | None:
        expires_at = recording_expires_at(recording)
        return (
            None
            if expires_at is None
            else serializers.DateTimeField().to_representation(expires_at)
        )


class RecordingApi(APIView):
    permission_classes = [HasTxScope]


class RecordingListApi(RecordingApi):
    class Input(serializers.Serializer[Any]):
        class Meta:
            ref_name = "RecordingListQuery"

        meeting_id = serializers.IntegerField(required=False, min_value=1)
        platform = serializers.ChoiceField(choices=Platform.choices, required=False)
        native_meeting_id = serializers.CharField(required=False, max_length=255)
        status = serializers.ChoiceField(choices=RecordingStatus.choices, required=False)
        page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=1)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)

    class Output(serializers.Serializer[Any]):
        class Meta:
            ref_name = "RecordingList"

        recordings = RecordingSerializer(many=True)
        total = serializers.IntegerField()
        page = serializers.IntegerField()
        page_size = serializers.IntegerField()

    @extend_schema(
        operation_id="recordings_list",
        summary="List Recordings",
        description=(
            "The caller's meeting recordings, newest first, paginated (`page`, `page_size`, "
            "`total`). Filters: `meeting_id`, `platform`, `native_meeting_id`, `status`. A "
            "recording is written while the bot runs (`in_progress`), so it grows until the "
            "meeting ends."
        ),
        parameters=[Input],
        responses=Output,
    )
    def get(self, request: Request) -> Response:
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        args = dict(params.validated_data)
        page = recordings.recording_list(user=request_user(request), **args)
        return Response(
            self.Output(
                {
                    "recordings": page.recordings,
                    "total": page.total,
                    "page": args["page"],
                    "page_size": args["page_size"],
                }
            ).data
        )


class RecordingDetailApi(RecordingApi):
    @extend_schema(
        operation_id="recordings_get",
        summary="Get Recording",
        description="One of the caller's recordings; 404 `Recording not found` otherwise.",
        responses=RecordingSerializer,
    )
    def get(self, request: Request, recording_id: int) -> Response:
        recording = recordings.recording_get(user=request_user(request), recording_id=recording_id)
        return Response(RecordingSerializer(recording).data)

    @extend_schema(
        operation_id="recordings_delete",
        summary="Delete Recording",
        description=("Deletes the recording and its file. 409 while the bot is still writing it."),
        responses={204: None},
    )
    def delete(self, request: Request, recording_id: int) -> Response:
        recordings.recording_delete(user=request_user(request), recording_id=recording_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordingDownloadApi(RecordingApi):
    @extend_schema(
        operation_id="recordings_download",
        summary="Download Recording",
        description=(
            "The audio file: Ogg Opus (`audio/ogg`, the default `RECORDING_FORMAT`) or WAV "
            "(`audio/wav`, 16 kHz mono), as the recording's `content_type` says. Supports "
            "`Range: bytes=first-last` (206 with `Content-Range`; 416 when unsatisfiable), so "
            "players can seek and downloads can resume."
        ),
        parameters=[OpenApiParameter("Range", str, OpenApiParameter.HEADER, required=False)],
        responses={
            (200, "audio/ogg"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "audio/wav"): OpenApiResponse(OpenApiTypes.BINARY),
            (206, "audio/ogg"): OpenApiResponse(OpenApiTypes.BINARY),
            (206, "audio/wav"): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def get(self, request: Request, recording_id: int) -> HttpResponse | StreamingHttpResponse:
        recording = recordings.recording_get(user=request_user(request), recording_id=recording_id)
        return recording_response(recording, range_header=request.headers.get("Range"))


def recording_response(
    recording: Recording, *, range_header: str | None
) -> HttpResponse | StreamingHttpResponse:
    """The recording's file, or the byte range asked for (206; 416 when unsatisfiable), as
    the API and the dashboard serve it: players seek with ranges, downloads resume."""
    path = recordings.recording_file(recording)
    size = path.stat().st_size
    try:
        wanted = recordings.byte_range(range_header, size)
    except ValueError:
        response = HttpResponse(status=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE)
        response["Content-Range"] = f"bytes */{size}"
        return response
    filename = f"recording-{recording.pk}{path.suffix}"
    if wanted is None:
        whole = FileResponse(
            path.open("rb"),
            content_type=recording.content_type,
            as_attachment=True,
            filename=filename,
        )
        whole["Accept-Ranges"] = "bytes"
        return whole
    first, last = wanted

    def body() -> Any:
        with path.open("rb") as handle:
            handle.seek(first)
            remaining = last - first + 1
            while remaining > 0:
                block = handle.read(min(CHUNK_BYTES, remaining))
                if not block:
                    return
                remaining -= len(block)
                yield block

    partial = StreamingHttpResponse(
        body(), status=status.HTTP_206_PARTIAL_CONTENT, content_type=recording.content_type
    )
    partial["Content-Range"] = f"bytes {first}-{last}/{size}"
    partial["Content-Length"] = str(last - first + 1)
    partial["Accept-Ranges"] = "bytes"
    partial["Content-Disposition"] = f'attachment; filename="{filename}"'
    return partial
