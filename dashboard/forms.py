"""The dashboard's forms: Django's fields strip and bound the values and refuse NUL characters."""

from __future__ import annotations

from django import forms

from accounts.models import VALID_SCOPES
from bots.services import CHAT_MAX_CHARS
from transcripts.services import speaker_name_check
from webhooks.models import SUBSCRIBABLE_EVENT_TYPES


class DashboardForm(forms.Form):
    """A dashboard form whose refusal is shown as one line above it."""

    def error_text(self) -> str:
        """One line naming each refused field, for the page's error banner."""
        return "; ".join(
            f"{name.replace('_', ' ')}: {' '.join(str(m) for m in messages)}"
            for name, messages in self.errors.items()
        )


class BotForm(DashboardForm):
    """ "Send a bot": a pasted meeting link, and optionally the bot's name, its language, when
    it joins and what it posts in the meeting's chat once let in."""

    meeting_url = forms.CharField(max_length=2048)
    bot_name = forms.CharField(max_length=100, required=False)
    language = forms.CharField(max_length=16, required=False)
    chat_on_join = forms.CharField(max_length=CHAT_MAX_CHARS, required=False)
    # A browser's datetime-local value, read in the server's time zone (UTC), as the page says.
    join_at = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M"])


class KeyForm(DashboardForm):
    """A new API key: a name to recognise it by and its scopes (none: the session key's)."""

    name = forms.CharField(max_length=255, required=False)
    scopes = forms.MultipleChoiceField(choices=[(s, s) for s in VALID_SCOPES], required=False)


class WebhookForm(DashboardForm):
    """A new webhook endpoint: its URL and the events it wants (none: every event)."""

    url = forms.CharField(max_length=2048)
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in SUBSCRIBABLE_EVENT_TYPES], required=False
    )


class MeetingDetailsForm(DashboardForm):
    """A meeting's name and notes, as `PATCH /meetings/...` sets them (empty: removed)."""

    name = forms.CharField(max_length=500, required=False)
    notes = forms.CharField(max_length=100_000, required=False, strip=False)


class SpeakerRenameForm(DashboardForm):
    """A speaker of the transcript and the name to show instead (`POST /meetings/{id}/speakers`)."""

    speaker = forms.CharField(max_length=255)
    name = forms.CharField(max_length=255, validators=[speaker_name_check])


class ChatMessageForm(DashboardForm):
    """What the bot posts in the meeting's chat (`POST /bots/.../chat`)."""

    text = forms.CharField(max_length=CHAT_MAX_CHARS)


class RetranscribeForm(DashboardForm):
    """The post-meeting pass: a model the server offers (empty: the live model)."""

    model = forms.CharField(max_length=500, required=False)


class CalendarForm(DashboardForm):
    """A calendar feed: its iCalendar address and a name to recognise it by."""

    url = forms.CharField(max_length=2048)
    name = forms.CharField(max_length=255, required=False)
