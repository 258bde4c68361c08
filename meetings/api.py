"""REST for meetings (`/meetings*`, scope `tx`): parse, call a selector or service, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from accounts.permissions import HasTxScope
from meetings import selectors, services
from meetings.models import Meeting, MeetingStatus, Platform
from meetings.serializers import MeetingSerializer, error_responses, meeting_wire
from transcripts.selectors import SEARCH_MAX_TERMS, search_terms_check
from vexa_site.errors import InvalidInput
from vexa_site.input_guard import PG_BIGINT_MAX

MEETING_ID_PARAM = OpenApiParameter(
    "meeting_id",
    int,
    required=False,
    description="Pick one meeting when the same platform id was met several times "
    "(default: the newest).",
)


def parse_query(serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
    """Validate query parameters; errors are 422 with `loc: ["query", name]` on any verb."""
    params = serializer_class(data=request.query_params)
    if not params.is_valid():
        raise InvalidInput(
            [
                {
                    "loc": ["query", name],
                    "msg": str(message),
                    "type": f"value_error.{getattr(message, 'code', 'invalid')}",
                }
                for name, messages in params.errors.items()
                for message in messages
            ]
        )
    return params.validated_data


class MeetingApi(APIView):
    permission_classes = [HasTxScope]


class MeetingSelectInput(serializers.Serializer[Any]):
    meeting_id = serializers.IntegerField(required=False, min_value=1)


class MeetingDataInput(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=500)
    notes = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=100_000
    )
    participants = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        allow_null=True,
        max_length=1000,
    )
    languages = serializers.ListField(
        child=serializers.CharField(max_length=16),
        required=False,
        allow_null=True,
        max_length=100,
    )


class MeetingListApi(MeetingApi):
    class Input(serializers.Serializer[Any]):
        limit = serializers.IntegerField(required=False, min_value=1, max_value=1000)
        offset = serializers.IntegerField(
            required=False, min_value=0, max_value=PG_BIGINT_MAX, default=0
        )
        status = serializers.ChoiceField(choices=MeetingStatus.choices, required=False)
        platform = serializers.ChoiceField(choices=Platform.choices, required=False)
        q = serializers.CharField(
            required=False,
            max_length=selectors.SEARCH_MAX_CHARS,
            validators=[search_terms_check],
            help_text="Words to find, each where a word starts in the meeting's name or its "
            'final transcript, or anywhere in its platform id, in any case; "quoted words" '
            f"are found as one phrase; every word or phrase must be found (at most "
            f"{SEARCH_MAX_TERMS}).",
        )

        class Meta:
            ref_name = "MeetingListQuery"

    class Output(serializers.Serializer[Any]):
        meetings = MeetingSerializer(many=True)
        has_more = serializers.BooleanField()

        class Meta:
            ref_name = "MeetingList"

    @extend_schema(
        operation_id="meetings_list",
        summary="List Meetings",
        description=(
            "The caller's meetings, newest first, in every status; each has its status "
            "history in `data.status_transition`. Without `limit` all meetings are returned; "
            "with `limit`/`offset`, `has_more` tells whether another page follows. Filters: "
            "`status`, `platform`, and `q`, text to find (an extension: Vexa has no search)."
        ),
        parameters=[Input],
        responses={
            200: Output,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e422="Invalid filter or page",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        args = dict(parse_query(self.Input, request))
        filters = {k: args[k] for k in ("status", "platform", "q") if k in args}
        page = selectors.meeting_list(
            user=request_user(request),
            filters=filters,
            limit=args.get("limit"),
            offset=args["offset"],
        )
        return Response(self.Output(page).data)


class MeetingDetailApi(MeetingApi):
    @extend_schema(
        operation_id="meetings_get",
        summary="Get Meeting",
        description="One of the caller's meetings by its id; 404 `Meeting not found` otherwise.",
        responses={
            200: MeetingSerializer,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting not found",
            ),
        },
    )
    def get(self, request: Request, meeting_id: int) -> Response:
        meeting = selectors.meeting_get(user=request_user(request), meeting_id=meeting_id)
        return Response(meeting_wire(meeting))


class MeetingByNativeApi(MeetingApi):
    class PatchInput(serializers.Serializer[Any]):
        data = MeetingDataInput()  # type: ignore[assignment]

        class Meta:
            ref_name = "MeetingPatchInput"

    class DeletedOutput(serializers.Serializer[Any]):
        message = serializers.CharField()

        class Meta:
            ref_name = "MeetingDeleted"

    @extend_schema(
        operation_id="meetings_update_data",
        summary="Update Meeting Data",
        description=(
            "Partial update of `data.name`, `data.notes`, `data.participants`, "
            "`data.languages`: only keys present change; arrays are replaced whole; null or "
            '"" clears a key. Other keys of `data` (status history, ...) are never touched; '
            "unknown keys are ignored. Targets the newest meeting with this id (or "
            "`meeting_id`). 409 after the meeting's data was deleted."
        ),
        parameters=[MEETING_ID_PARAM],
        request=PatchInput,
        responses={
            200: MeetingSerializer,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting not found",
                e409="The meeting's data was deleted",
                e422="A field has the wrong type",
            ),
        },
    )
    def patch(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        meeting = meeting_from_path(request, platform, native_meeting_id)
        body = self.PatchInput(data=request.data)
        body.is_valid(raise_exception=True)
        meeting = services.meeting_update_data(
            meeting_id=meeting.pk, changes=dict(body.validated_data["data"])
        )
        return Response(meeting_wire(meeting))

    @extend_schema(
        operation_id="meetings_delete",
        summary="Delete Meeting Data",
        description=(
            "For `completed` or `failed` meetings (409 otherwise, and nothing is deleted): "
            "deletes the transcript segments, recordings and share links of every meeting held "
            "under this id (only one with `meeting_id`), clears their metadata, bot settings "
            "and meeting URL, and keeps anonymized stubs (`data.redacted: true`) with their "
            "status history. Safe to retry: deleting again answers the same."
        ),
        parameters=[MEETING_ID_PARAM],
        request=None,
        responses={
            200: DeletedOutput,
            **error_responses(
                e401="Missing or invalid API key",
                e403="The key lacks the `tx` scope",
                e404="Meeting not found",
                e409="The meeting is still live",
            ),
        },
    )
    def delete(self, request: Request, platform: str, native_meeting_id: str) -> Response:
        # The meeting id names every call held under it: deleting "the meeting" deletes the
        # data of each (one alone with `?meeting_id`), or an older call's transcript and
        # share links would stay behind a 200.
        meetings = selectors.meetings_by_native(
            user=request_user(request),
            platform=platform,
            native_meeting_id=native_meeting_id,
            meeting_id=parse_query(MeetingSelectInput, request).get("meeting_id"),
        )
        services.meetings_delete(meeting_ids=[m.pk for m in meetings])
        return Response(
            {
                "message": f"Meeting {platform}/{native_meeting_id} data deleted; "
                "an anonymized record is kept"
            }
        )


def meeting_from_path(request: Request, platform: str, native_meeting_id: str) -> Meeting:
    """The caller's meeting named by a `{platform}/{native_meeting_id}` path (+ `?meeting_id`)."""
    params = parse_query(MeetingSelectInput, request)
    return selectors.meeting_get_by_native(
        user=request_user(request),
        platform=platform,
        native_meeting_id=native_meeting_id,
        meeting_id=params.get("meeting_id"),
    )
