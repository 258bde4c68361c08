from __future__ import annotations

from django.db import models
from django.utils import timezone

from meetings.models import Meeting


class Segment(models.Model):
    """A transcript segment: a draft (`completed=False`) until confirmed, same `segment_id` after.

    `start`/`end` are seconds from the session start; the absolute times are the session's
    `started_at` plus those. `words` keeps word timestamps and probabilities
    (`[{"word", "start", "end", "probability", "speaker"}]`).
    """

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="segments")
    session_uid = models.CharField(max_length=64)
    segment_id = models.CharField(max_length=128)
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()
    speaker = models.CharField(max_length=255, null=True, blank=True)
    language = models.CharField(max_length=16, null=True, blank=True)
    completed = models.BooleanField(default=False)
    absolute_start_time = models.DateTimeField()
    absolute_end_time = models.DateTimeField()
    words = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("absolute_start_time", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "segment_id"], name="segment_unique_per_meeting"
            )
        ]
        indexes = [
            models.Index(fields=["meeting", "absolute_start_time"], name="segment_meeting_time"),
            models.Index(fields=["session_uid", "start"], name="segment_session_start"),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.text[:40]}"


class ShareLink(models.Model):
    """A public, expiring, revocable read-only link to a meeting's transcript text."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="share_links")
    share_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.share_id
