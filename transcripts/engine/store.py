"""Writing the engine's output: segment upserts and the checkpoint in one transaction, then
publication to WebSocket/SSE subscribers after the commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from meetings import events
from meetings.models import MeetingSession
from meetings.stream import SessionStream
from transcripts import realtime
from transcripts.engine.lease import LeaseLost
from transcripts.engine.segments import SegmentOut
from transcripts.engine.streaming import Emission
from transcripts.exports import continues_sentence
from transcripts.models import Segment
from transcripts.serializers import segment_wire
from transcripts.services import speaker_named, speaker_names_locked, words_named
from vexa_site.redis import get_job_redis


def _fields(session: MeetingSession, out: SegmentOut, names: Mapping[str, str]) -> dict[str, Any]:
    drift = out.wall_offset_s
    return {
        "session_uid": session.session_uid,
        "start": out.start,
        "end": out.end,
        "text": out.text,
        "speaker": speaker_named(names, out.speaker),
        "language": out.language,
        "completed": out.completed,
        "absolute_start_time": session.started_at + timedelta(seconds=out.start + drift),
        "absolute_end_time": session.started_at + timedelta(seconds=out.end + drift),
        "words": words_named(names, out.words),
    }


def emission_store(*, session: MeetingSession, emission: Emission, owner: str | None) -> None:
    """Upsert the emission's segments, delete vanished drafts and save the checkpoint, atomically;
    publish `transcript.finalized` / `transcript.mutable` after the commit.

    `owner` is the worker's fencing token: if the session row names another owner, nothing is
    written and `LeaseLost` is raised. A final is never turned back into a draft.
    """
    if not emission:
        return
    now = timezone.now()
    finals: list[Segment] = []
    drafts: list[Segment] = []
    with transaction.atomic():
        state = (
            MeetingSession.objects.select_for_update()
            .values_list("transcriber_state", flat=True)
            .get(pk=session.pk)
        )
        if owner is not None and (state or {}).get("owner") != owner:
            raise LeaseLost(session.session_uid)
        names = speaker_names_locked(meeting_id=session.meeting_id)
        if emission.removed_drafts:
            # Before the upserts: an id whose start moved is withdrawn and written again.
            Segment.objects.filter(
                meeting_id=session.meeting_id,
                segment_id__in=[r.segment_id for r in emission.removed_drafts],
                completed=False,
            ).delete()
        outs = [*emission.finals, *emission.drafts]
        existing = {
            s.segment_id: s
            for s in Segment.objects.filter(
                meeting_id=session.meeting_id, segment_id__in=[o.segment_id for o in outs]
            )
        }
        for out in outs:
            segment = existing.get(out.segment_id)
            if segment is not None and segment.completed and not out.completed:
                continue
            if segment is None:
                segment = Segment(
                    meeting_id=session.meeting_id,
                    segment_id=out.segment_id,
                    created_at=now,
                    updated_at=now,
                    **_fields(session, out, names),
                )
                segment.save(force_insert=True)
            else:
                for name, value in _fields(session, out, names).items():
                    setattr(segment, name, value)
                segment.updated_at = now
                segment.save()
            (finals if out.completed else drafts).append(segment)
        if emission.removed_drafts:
            # Published empty: a client keyed by absolute_start_time drops its copy.
            drafts.extend(
                Segment(
                    meeting_id=session.meeting_id,
                    segment_id=r.segment_id,
                    created_at=now,
                    updated_at=now,
                    **_fields(session, r, names),
                )
                for r in emission.removed_drafts
            )
        if emission.checkpoint is not None:
            MeetingSession.objects.filter(pk=session.pk).update(
                transcriber_state={**emission.checkpoint, "owner": owner}
            )
            resume_after = emission.checkpoint.get("after")
            if resume_after:
                # Only once the checkpoint is committed: a worker that dies before then is
                # succeeded from the previous checkpoint, which still needs those entries.
                stream = SessionStream(session.session_uid)
                # A lambda, not a partial: a robust callback that raises (Redis restarting) is
                # logged by its `__qualname__`, which a partial lacks, and that AttributeError
                # ended the transcription.
                transaction.on_commit(lambda: stream.trim_before(resume_after), robust=True)
            if emission.checkpoint.get("finished"):
                # Strictly later than this emission's rows: clients keep the newest version.
                later = max(timezone.now(), now + timedelta(microseconds=1))
                joined, absorbed = segments_join(session=session, now=later)
                changed = {row.pk for row in (*joined, *absorbed)}
                finals = [*(f for f in finals if f.pk not in changed), *joined]
                drafts.extend(absorbed)
                transcript_ready(session=session, source="live", key=f"{session.session_uid}:live")
        meeting_id = session.meeting_id
        final_wire = [segment_wire(s) for s in finals]
        draft_wire = [segment_wire(s) for s in drafts]

        finished = bool(emission.checkpoint and emission.checkpoint.get("finished"))

        def publish() -> None:
            # Through the job client: a Redis restart holds these back until it is up again
            # (the session waits for Redis anyway), where the default client would drop them.
            client = get_job_redis()
            for kind, wire in (("finalized", final_wire), ("mutable", draft_wire)):
                realtime.publish_segments(
                    meeting_id=meeting_id, kind=kind, segments=wire, client=client
                )
            if finished:
                realtime.event_log_settle(meeting_id=meeting_id)

        # The segments are committed; Redis away for longer than the reconnect window must not
        # kill the session's task (live clients then catch up from GET /transcripts).
        transaction.on_commit(publish, robust=True)


def segments_join(*, session: MeetingSession, now: datetime) -> tuple[list[Segment], list[Segment]]:
    """Join a finished session's final fragments back into sentences (call in its transaction).

    Live finals are words confirmed as soon as two passes agree, so a sentence is stored as
    several segments; once the session is over nothing needs them apart. Consecutive segments of
    one speaker and language join by the exports' rule; the joined one keeps the first's id and
    start. Returns (the joined segments, the absorbed ones with empty text) to publish: a client
    merging by `absolute_start_time` and newest `updated_at` ends with the stored transcript.
    Idempotent: joined segments end a sentence or break the rule with their successor.
    """
    rows = list(
        Segment.objects.filter(
            meeting_id=session.meeting_id, session_uid=session.session_uid, completed=True
        ).order_by("start", "id")
    )
    kept: list[Segment] = []
    joined: dict[int, Segment] = {}
    absorbed: list[Segment] = []
    for row in rows:
        last = kept[-1] if kept else None
        if (
            last is not None
            and last.language == row.language
            and continues_sentence(
                text=last.text,
                start=last.absolute_start_time,
                end=last.absolute_end_time,
                same_speaker=last.speaker == row.speaker,
                next_start=row.absolute_start_time,
                next_end=row.absolute_end_time,
            )
        ):
            last.text = " ".join(f"{last.text} {row.text}".split())
            last.end = max(last.end, row.end)
            last.absolute_end_time = max(last.absolute_end_time, row.absolute_end_time)
            last.words = [*(last.words or []), *(row.words or [])]
            last.updated_at = now
            joined[last.pk] = last
            # Published like a vanished draft: empty, not completed, so it is dropped.
            row.text = ""
            row.completed = False
            row.updated_at = now
            absorbed.append(row)
            continue
        kept.append(row)
    if absorbed:
        Segment.objects.filter(pk__in=[row.pk for row in absorbed]).delete()
        Segment.objects.bulk_update(
            list(joined.values()), ["text", "end", "absolute_end_time", "words", "updated_at"]
        )
    return list(joined.values()), absorbed


def transcript_ready(*, session: MeetingSession, source: str, key: str) -> None:
    """Emit `transcript.ready` for a session whose final transcript is stored (call inside the
    transaction that stored it): `source` is `live`, `offline` (the post-meeting pass) or
    `rename` (a speaker renamed in a finished meeting)."""
    count = Segment.objects.filter(
        meeting_id=session.meeting_id, session_uid=session.session_uid, completed=True
    ).count()
    events.dispatch_output(
        events.output_event(
            kind="transcript.ready",
            meeting_id=session.meeting_id,
            key=f"transcript:{key}",
            data={"session_uid": session.session_uid, "source": source, "segments": count},
        )
    )


def session_claim(*, session: MeetingSession, owner: str) -> dict[str, Any]:
    """Make `owner` the session's transcriber and return its checkpoint.

    Drafts left by a dead predecessor are deleted (and published empty, so live clients drop
    them): the new worker re-transcribes everything after the checkpoint and re-creates them.
    """
    with transaction.atomic():
        row = MeetingSession.objects.select_for_update().get(pk=session.pk)
        state = dict(row.transcriber_state or {})
        row.transcriber_state = {**state, "owner": owner}
        row.save(update_fields=["transcriber_state"])
        stale = Segment.objects.filter(
            meeting_id=session.meeting_id, session_uid=session.session_uid, completed=False
        )
        emptied = []
        for segment in stale:
            segment.text = ""
            segment.updated_at = timezone.now()
            emptied.append(segment_wire(segment))
        stale.delete()
        if emptied:
            meeting_id = session.meeting_id
            transaction.on_commit(
                lambda: realtime.publish_segments(
                    meeting_id=meeting_id, kind="mutable", segments=emptied
                ),
                robust=True,
            )
    return state
