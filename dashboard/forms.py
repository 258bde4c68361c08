"""The dashboard's forms: Django's fields strip and bound the values and refuse NUL characters."""

from __future__ import annotations

from django import forms


class BotForm(forms.Form):
    """ "Send a bot": a pasted meeting link, and optionally the bot's name and language."""

    meeting_url = forms.CharField(max_length=2048)
    bot_name = forms.CharField(max_length=100, required=False)
    language = forms.CharField(max_length=16, required=False)

    def error_text(self) -> str:
        """One line naming each refused field, for the page's error banner."""
        return "; ".join(
            f"{name.replace('_', ' ')}: {' '.join(str(m) for m in messages)}"
            for name, messages in self.errors.items()
        )
