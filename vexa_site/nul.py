"""NUL characters in user input: refused with a 422 before they reach the database.

PostgreSQL cannot store U+0000 in text or jsonb, so a NUL in a path segment, a query value or a
JSON string used to surface as a `DataError` (a 500) from whatever query first touched it. DRF's
`CharField` and Django's form fields already refuse it; these cover what they do not: URLs,
query strings, and strings nested in JSON objects (`data`, `bot_config`) that no field inspects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

NUL = "\x00"
NUL_MESSAGE = "must not contain NUL (\\u0000) characters"


def nul_location(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where the first NUL in a decoded JSON value is (keys count too), or None."""
    if isinstance(value, str):
        return loc if NUL in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if NUL in str(key):
                return (*loc, str(key))
            found = nul_location(item, (*loc, str(key)))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_location(item, (*loc, index))
            if found is not None:
                return found
    return None


def _field_error(loc: list[str | int]) -> dict[str, Any]:
    return {"loc": loc, "msg": NUL_MESSAGE, "type": "value_error.nul"}


class NulRejectingMiddleware:
    """A URL path or query string with a NUL is a 422 naming where it was.

    Bodies are left to their parsers (reading a stream here would consume it): the JSON one
    below, and Django form fields for the dashboard's posts."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        errors: list[dict[str, Any]] = []
        if NUL in request.path_info:
            errors.append(_field_error(["path"]))
        for key, values in request.GET.lists():
            if NUL in key or any(NUL in value for value in values):
                errors.append(_field_error(["query", key.replace(NUL, "")]))
        if errors:
            return JsonResponse({"detail": errors}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return self.get_response(request)


class NulRejectingJSONParser(JSONParser):
    """DRF's JSON parser, refusing a body with a NUL in any string (a 422 with its location)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        loc = nul_location(data)
        if loc is not None:
            where = ".".join(str(part) for part in loc) or "the body"
            raise ParseError(f"{where} {NUL_MESSAGE}")
        return data
