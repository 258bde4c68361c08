from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Platform(models.TextChoices):
    GOOGLE_MEET = "google_meet", "Google Meet"
    TEAMS = "teams", "Microsoft Teams"
    ZOOM = "zoom", "Zoom"


class MeetingStatus(models.TextChoices):
    REQUESTED = "requested"
    JOINING = "joining"
    AWAITING_ADMISSION = "awaiting_admission"
    ACTIVE = "active"
    STOPPING = "stopping"
    COMPLETED = "completed"
    FAILED = "failed"


LIVE_STATUSES = (
    MeetingStatus.REQUESTED,
    MeetingStatus.JOINING,
    MeetingStatus.AWAITING_ADMISSION,
    MeetingStatus.ACTIVE,
    MeetingStatus.STOPPING,
)
TERMINAL_STATUSES = (MeetingStatus.COMPLETED, MeetingStatus.FAILED)


class Meeting(models.Model):
    """One bot run's meeting record, as Vexa's API shows it.

    `status` is written only by `meetings.lifecycle.transition`. `data` holds user metadata
    (name, notes, participants, languages), the status history (`status_transition`) and
    completion/failure details; `bot_config` holds what the bot was asked to do.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meetings"
    )
    platform = models.CharField(max_length=32, choices=Platform.choices)
    native_meeting_id = models.CharField(max_length=255)
    constructed_meeting_url = models.CharField(max_length=2048, blank=True, default="")
    status = models.CharField(
        max_length=32, choices=MeetingStatus.choices, default=MeetingStatus.REQUESTED
    )
    bot_container_id = models.CharField(max_length=255, null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # bot_name, language, task, passcode, automatic_leave, recording_enabled, transcribe_enabled,
    # metadata, hotwords, prompt: set by POST /bots, changed by PUT /bots/.../config.
    bot_config = models.JSONField(default=dict, blank=True)
    join_at = models.DateTimeField(null=True, blank=True)
    bot_heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["user", "-created_at"], name="meeting_user_created"),
            models.Index(
                fields=["user", "platform", "native_meeting_id"], name="meeting_user_native"
            ),
            models.Index(fields=["status"], name="meeting_status"),
        ]
        constraints = [
            # At most one live bot per user and meeting, enforced by the database (409 on race).
            models.UniqueConstraint(
                fields=["user", "platform", "native_meeting_id"],
                condition=Q(status__in=[s.value for s in LIVE_STATUSES]),
                name="one_live_bot_per_meeting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}/{self.native_meeting_id} #{self.pk} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


def new_session_uid() -> str:
    return str(uuid.uuid4())


class MeetingSession(models.Model):
    """One bot run inside a meeting: its audio stream, speakers and segments share session_uid.

    `started_at` is the wall-clock time of session-relative t=0 (audio and segments count
    from it).
    `transcriber_state` is the transcription worker's checkpoint (stream position,
    confirmed offset).
    """

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="sessions")
    session_uid = models.CharField(max_length=64, unique=True, default=new_session_uid)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    transcriber_state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("started_at", "id")

    def __str__(self) -> str:
        return self.session_uid


class RecordingStatus(models.TextChoices):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


class Recording(models.Model):
    """The meeting audio of one session, written incrementally to local storage."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="recordings")
    session = models.ForeignKey(
        MeetingSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="recordings"
    )
    status = models.CharField(
        max_length=32, choices=RecordingStatus.choices, default=RecordingStatus.IN_PROGRESS
    )
    file_path = models.CharField(max_length=1024)
    content_type = models.CharField(max_length=100, default="audio/wav")
    size_bytes = models.BigIntegerField(default=0)
    duration_s = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"recording #{self.pk} of meeting #{self.meeting_id}"


class BotChatMessage(models.Model):
    """A message the user asked the meeting's bot to post in the meeting's chat: the bot posts
    it once it is in the call (`sent_at`), or says why it could not (`error`). Kept in the
    database, so a bot that rejoins or takes over still posts what waited."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="chat_messages")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"chat message #{self.pk} of meeting #{self.meeting_id}"

    @property
    def status(self) -> str:
        return "sent" if self.sent_at else ("failed" if self.error else "pending")


class ChatMessage(models.Model):
    """A message a participant posted in the meeting's chat, as the bot read it from the
    chat's panel while in the call (the bot's own posts are `BotChatMessage`s). `seen_at` is
    when the bot saw it: the platforms' panels show no exact time."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="chat_read")
    sender = models.CharField(max_length=255)
    text = models.TextField()
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("seen_at", "id")

    def __str__(self) -> str:
        return f"{self.sender}'s chat message in meeting #{self.meeting_id}"


class IdempotencyKey(models.Model):
    """A client's `Idempotency-Key` for a create call, with the response it got.

    The row is inserted in the same transaction as the work it guards, so a concurrent request
    with the same key waits on the unique index and then replays the committed response.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    meeting = models.ForeignKey(
        Meeting, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "key"], name="idempotency_key_unique_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
