"""Domain errors and the one place that maps every error to the `{"detail": ...}` contract.

Services raise `DomainError` subclasses; views never build error responses themselves.
Validation errors become 422 with a FastAPI-style list (`loc`, `msg`, `type`) because Vexa
clients parse that shape.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Base of errors a service raises for a caller's mistake or a refused operation."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_detail: Any = "Bad request"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = detail if detail is not None else self.default_detail
        self.headers = headers or {}
        super().__init__(str(self.detail))

    @property
    def message(self) -> str:
        """The detail as a person reads it (a field-error list becomes its messages)."""
        if isinstance(self.detail, list):
            return "; ".join(
                str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in self.detail
            )
        return str(self.detail)


class BadRequest(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST


class InvalidInput(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "Invalid input"


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "Not found"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict"


class TooManyRequests(DomainError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many requests"


class NoCapacity(DomainError):
    """Every bot slot of the running bot hosts is taken (Recall's 507, seed 004)."""

    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_detail = "No bot is free"


def field_errors(data: Any, loc: list[str | int]) -> list[dict[str, Any]]:
    """Flatten DRF's nested error dict into FastAPI's `[{loc, msg, type}]` list."""
    if isinstance(data, dict):
        out: list[dict[str, Any]] = []
        for key, value in data.items():
            sub = loc if key in ("non_field_errors", "__all__") else [*loc, key]
            out.extend(field_errors(value, sub))
        return out
    if isinstance(data, list):
        if all(isinstance(item, str) for item in data):
            return [_one_error(item, loc) for item in data]
        out = []
        for index, item in enumerate(data):
            if item:
                out.extend(field_errors(item, [*loc, index]))
        return out
    return [_one_error(data, loc)]


def _one_error(message: Any, loc: list[str | int]) -> dict[str, Any]:
    code = getattr(message, "code", "invalid")
    return {"loc": loc, "msg": str(message), "type": f"value_error.{code}"}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: keeps DRF's rollback and headers, reshapes the body."""
    if isinstance(exc, DomainError):
        return Response({"detail": exc.detail}, status=exc.status_code, headers=exc.headers)
    if isinstance(exc, exceptions.ValidationError):
        request = context.get("request")
        where = "query" if request is not None and request.method == "GET" else "body"
        return Response(
            {"detail": field_errors(exc.detail, [where])},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, exceptions.ParseError):
        return Response(
            {"detail": [{"loc": ["body"], "msg": str(exc.detail), "type": "value_error.json"}]},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, RequestDataTooBig):
        # Django raises it on reading the body; uncaught, it became an HTML "Bad Request" page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"Request body too large (at most {limit} bytes)"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    drf_response = drf_exception_handler(exc, context)
    if (
        isinstance(drf_response, Response)
        and isinstance(drf_response.data, dict)
        and "detail" in drf_response.data
    ):
        drf_response.data = {"detail": str(drf_response.data["detail"])}
    return drf_response


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Unknown routes answer JSON, like every API error."""
    return JsonResponse({"detail": "Not Found"}, status=404)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """A request Django refused before any view (a suspicious header, a body too large for a
    form) answers JSON too, not Django's HTML page."""
    return JsonResponse({"detail": "Bad request"}, status=400)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error"}, status=500)
