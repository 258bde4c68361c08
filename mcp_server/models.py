"""OAuth for MCP clients: the clients that registered themselves, and the one-time codes a user's
consent hands them (exchanged for an API key, `accounts.ApiToken`, named after the client)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import ApiToken, User


class OAuthClient(models.Model):
    """An assistant registered through dynamic client registration (RFC 7591): public (no
    secret; PKCE proves the code's requester), known by its redirect URIs."""

    client_id = models.CharField(max_length=64, unique=True)
    client_name = models.CharField(max_length=200)
    redirect_uris = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "OAuth client"

    def __str__(self) -> str:
        return f"{self.client_name} ({self.client_id})"


class OAuthGrant(models.Model):
    """A user's consent, as the authorization code the client exchanges once, within minutes,
    with the PKCE verifier of `code_challenge`. Only the code's hash is stored."""

    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="oauth_grants")
    redirect_uri = models.TextField()
    code_challenge = models.CharField(max_length=128)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # The key the code was exchanged for: the next consent of this client for this user
    # revokes it, so reconnecting an assistant does not leave its old keys working.
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "OAuth grant"

    def __str__(self) -> str:
        return f"grant {self.pk} of {self.client_id} for {self.user_id}"
