"""Reads of transcripts and share links (meetings are looked up by `meetings.selectors`)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Lookup, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from meetings.models import Meeting
from transcripts.models import Segment, ShareLink
from vexa_site.errors import NotFound

SHARE_NOT_FOUND = "Share link not found or expired"
SEARCH_MAX_TERMS = 8
_TERM = re.compile(r'"([^"]*)"|(\S+)')


def search_terms(text: str) -> list[str]:
    """The words and "quoted phrases" of a search, in order, without repeats (any case)."""
    terms: dict[str, str] = {}
    for phrase, word in _TERM.findall(text):
        term = " ".join((phrase or word.strip('"')).split())
        if term:
            terms.setdefault(term.casefold(), term)
    return list(terms.values())


def search_terms_check(text: str) -> None:
    """Validator of a search's text: a term is one more query over the transcript lines."""
    if len(search_terms(text)) > SEARCH_MAX_TERMS:
        raise ValidationError(f"Search for at most {SEARCH_MAX_TERMS} words or quoted phrases.")


def _phrase_regex(term: str) -> str:
    """`term`'s words escaped, joined by any run of non-word characters: a phrase is found as
    said whatever stood between its words ("budget review" in "budget, review")."""
    return r"\W+".join(re.escape(word) for word in term.split())


def word_start_pattern(term: str) -> str:
    """A Python regex finding `term` where a word starts (with `re.IGNORECASE`: in any case):
    "art" in "Art" or "artist", not in "start"."""
    return r"(?<!\w)" + _phrase_regex(term)


class WordStart(Lookup):
    """`field` has `term` where a word starts, in any case (see `word_start_pattern`).

    PostgreSQL: `UPPER(field) LIKE UPPER('%term%')`, which the trigram index on final lines
    serves and the planner estimates from the index's statistics, then the word start as
    `regexp_match(...) IS NOT NULL`, which it takes for nearly always true. As a `~` (or
    `textregexeq`) the regex got the planner's guess for a long pattern, almost no line: for a
    word in 712,000 of 900,000 lines it collected every one of them through the index (1.2 s)
    instead of walking the newest meetings until a page was full (1 ms). SQLite: its REGEXP
    (Python's `re`, registered by Django)."""

    lookup_name = "word_start"
    prepare_rhs = False

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} REGEXP %s", [*lhs_params, "(?i)" + word_start_pattern(self.rhs)]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        words = [connection.ops.prep_for_like_query(word) for word in self.rhs.split()]
        like = f"%{'%'.join(words)}%"
        # The term is upper-cased by the database, as the text is (Python's upper() differs:
        # "ß" becomes "SS"); re.escape only escapes punctuation, and `\W` is upper case already.
        sql = (
            f"(UPPER({lhs}) LIKE UPPER(%s) AND "
            f"regexp_match(UPPER({lhs}), '(?<![[:alnum:]_])' || UPPER(%s)) IS NOT NULL)"
        )
        return sql, [*lhs_params, like, *lhs_params, _phrase_regex(self.rhs)]


def segments_saying(term: str) -> Q:
    """Final segments with `term` where a word starts (drafts may still change)."""
    return Q(completed=True) & Q(WordStart(F("text"), term))


def segment_list(*, meeting: Meeting) -> list[Segment]:
    """A meeting's segments in chronological order (drafts included), one indexed query."""
    return list(Segment.objects.filter(meeting=meeting).order_by("absolute_start_time", "id"))


def segment_first_matches(*, meetings: list[Meeting], text: str) -> dict[int, str]:
    """For each meeting, its earliest final line with every term of the search `text`, or
    failing that with any of them, in one query of one row per meeting (a common word must not
    fetch every line that has it); meetings where none was said are left out."""
    terms = search_terms(text)
    if not terms:
        return {}
    every, anyone = Q(), Q()
    for term in terms:
        every &= segments_saying(term)
        anyone |= segments_saying(term)

    def first(saying: Q) -> Subquery:
        lines = Segment.objects.filter(saying, meeting=OuterRef("pk"))
        return Subquery(lines.order_by("absolute_start_time", "id").values("text")[:1])

    said = first(every) if len(terms) == 1 else Coalesce(first(every), first(anyone))
    rows = (
        Meeting.objects.filter(pk__in=[m.pk for m in meetings])
        .annotate(said=said)
        .values_list("pk", "said")
    )
    return {pk: said for pk, said in rows if said is not None}


def share_get_public(*, share_id: str) -> ShareLink:
    """A share link that still works (not revoked, not expired), with its meeting."""
    link = (
        ShareLink.objects.select_related("meeting")
        .filter(share_id=share_id, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if link is None:
        raise NotFound(SHARE_NOT_FOUND)
    return link
