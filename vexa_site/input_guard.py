"""Input no handler should see: NUL characters and runaway JSON nesting, refused with a 422;
and the bounds of PostgreSQL's integer columns, which the serializers of numbers apply.

PostgreSQL cannot store U+0000 in text or jsonb, so a NUL in a path segment, a query value or a
JSON string used to surface as a `DataError` (a 500) from whatever query first touched it. DRF's
`CharField` and Django's form fields already refuse it; these cover what they do not: URLs,
query strings, and strings nested in JSON objects (`data`, `bot_config`) that no field inspects.
JSON nested thousands deep made Python's decoder raise `RecursionError` (also a 500).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

NUL = "\x00"
NUL_MESSAGE = "must not contain NUL (\\u0000) characters"
# No request needs more (metadata and bot settings are a few levels); deeper JSON is refused
# before it reaches code that walks it recursively.
MAX_JSON_DEPTH = 32


TOO_DEEP_MESSAGE = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"

# PostgreSQL's integer and bigint: a larger number saved into an integer column, or taken as an
# OFFSET, is a `DataError` (a 500) from the query. Numbers that reach one are bounded by these
# (lookups need no bound: Django matches nothing for an id out of its column's range).
PG_INTEGER_MAX = 2**31 - 1
PG_BIGINT_MAX = 2**63 - 1
# The highest page number of a paged list (pages of at most 100 rows) whose OFFSET fits.
MAX_PAGE = PG_BIGINT_MAX // 100


def json_problem(value: Any) -> str | None:
    """What is wrong with a decoded JSON value, or None: nesting past `MAX_JSON_DEPTH`, or the
    first NUL in a string or key (named by its location). One iterative walk, so a deep body
    cannot exhaust the stack here."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, where = pending.pop()
        if len(where) > MAX_JSON_DEPTH:
            return TOO_DEEP_MESSAGE
        if isinstance(item, str):
            if NUL in item:
                return f"{'.'.join(str(part) for part in where) or 'the body'} {NUL_MESSAGE}"
        elif isinstance(item, Mapping):
            for key in item:
                if NUL in str(key):
                    return f"{'.'.join(str(part) for part in (*where, key))} {NUL_MESSAGE}"
            pending.extend((item[key], (*where, str(key))) for key in reversed(list(item)))
        elif isinstance(item, list | tuple):
            pending.extend(
                (part, (*where, index)) for index, part in reversed(list(enumerate(item)))
            )
    return None


def storable_json(value: Any) -> None:
    """Model-field validator for JSON an operator edits in the Django admin (the API's parser
    refuses the same before any field sees it): a form error instead of a DataError 500."""
    problem = json_problem(value)
    if problem is not None:
        raise ValidationError(problem.replace("the body", "the value"), code="unstorable")


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


class GuardedJSONParser(JSONParser):
    """DRF's JSON parser, refusing a body with a NUL in any string (a 422 with its location) or
    nested deeper than `MAX_JSON_DEPTH`."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # Python's decoder recurses per level: thousands of `[` would be a 500.
            raise ParseError(TOO_DEEP_MESSAGE) from None
        problem = json_problem(data)
        if problem is not None:
            raise ParseError(problem)
        return data


class ClosedInput(serializers.Serializer[Any]):
    """An input whose unknown keys are a 422 field error, for inputs where a misspelt key would
    silently mean something else: `{"events": [...]}` for `event_types` made an endpoint that
    receives every event. (The Vexa-compatible inputs stay open: their clients send extras.)"""

    def validate(self, attrs: Any) -> Any:
        given = self.initial_data if isinstance(self.initial_data, Mapping) else {}
        unknown = sorted(str(key) for key in given if key not in self.fields)
        if unknown:
            raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return attrs
