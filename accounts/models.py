from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from vexa_site.input_guard import storable_json

VALID_SCOPES = ("bot", "browser", "tx")
DEFAULT_SCOPES = ["bot", "tx"]


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """An API user (and, with is_staff, an operator of the Django admin)."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=255, blank=True, default="")
    image_url = models.URLField(max_length=1024, blank=True, null=True)
    # 0 means unlimited.
    max_concurrent_bots = models.PositiveIntegerField(default=1)
    data = models.JSONField(default=dict, blank=True, validators=[storable_json])
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.email


def hash_token(plain: str) -> str:
    """Tokens carry 256 random bits, so one SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(plain.encode()).hexdigest()


class ApiToken(models.Model):
    """A user's API key. Only its hash is stored; the plain value is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=255, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters, to let people recognise a key in lists ("vex_AbCd…").
    prefix = models.CharField(max_length=16)
    scopes = models.JSONField(default=list, validators=[storable_json])
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"

    @property
    def masked(self) -> str:
        return f"{self.prefix}…"

    def is_usable(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return not self.revoked and (self.expires_at is None or self.expires_at > now)
