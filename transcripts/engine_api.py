"""REST for the post-meeting pass: `POST /meetings/{id}/transcribe` (scope `tx`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from accounts.permissions import HasTxScope
from transcripts.engine.offline import retranscription_enqueue


class MeetingTranscribeApi(APIView):
    permission_classes = [HasTxScope]

    class Input(serializers.Serializer[Any]):
        class Meta:
            ref_name = "MeetingTranscribeInput"

        model = serializers.CharField(required=False, allow_null=True, max_length=500)

    class Output(serializers.Serializer[Any]):
        class Meta:
            ref_name = "MeetingTranscribeQueued"

        meeting_id = serializers.IntegerField()
        status = serializers.CharField()
        model = serializers.CharField(allow_null=True)

    @extend_schema(
        operation_id="meetings_transcribe",
        summary="Re-transcribe a Meeting",
        description=(
            "Queue a post-meeting pass over the meeting's stored recording with the live model "
            "or a `model` the operator made available (`WHISPER_OFFLINE_MODELS`); its segments "
            "replace the live ones and keep their speakers. 409 while the meeting is live or "
            "when it has no completed recording."
        ),
        request=Input,
        responses={202: Output},
    )
    def post(self, request: Request, meeting_id: int) -> Response:
        data = self.Input(data=request.data or {})
        data.is_valid(raise_exception=True)
        model = data.validated_data.get("model") or None
        meeting = retranscription_enqueue(
            user=request_user(request), meeting_id=meeting_id, model=model
        )
        body = {"meeting_id": meeting.pk, "status": "queued", "model": model}
        return Response(self.Output(body).data, status=status.HTTP_202_ACCEPTED)
