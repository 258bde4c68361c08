"""Reads for users and tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiToken, User
from vexa_site.errors import NotFound


def user_list(*, skip: int = 0, limit: int = 100) -> QuerySet[User]:
    return User.objects.order_by("id")[skip : skip + limit]


def user_get(*, user_id: int) -> User:
    user = User.objects.filter(pk=user_id).prefetch_related("api_tokens").first()
    if user is None:
        raise NotFound("User not found")
    return user


def user_get_by_email(*, email: str) -> User:
    user = User.objects.filter(email__iexact=email.strip()).prefetch_related("api_tokens").first()
    if user is None:
        raise NotFound("User not found")
    return user


def token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("id")


def token_get_for_user(*, user: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise NotFound("API key not found")
    return token
