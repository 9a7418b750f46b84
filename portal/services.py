"""API tokens: issued with a lifetime, listed and revoked by managers."""

from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.authtoken.models import Token

from portal.models import TokenDetails, TokenLifetime


@transaction.atomic
def create_api_token(
    *, user, lifetime: TokenLifetime = TokenLifetime.DAYS_90, now: datetime | None = None
) -> Token:
    """A new token for `user`, replacing (and so revoking) the one they had: one token per user."""
    now = now or timezone.now()
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    duration = TokenLifetime(lifetime).duration
    TokenDetails.objects.create(
        token=token, created_at=now, expires_at=now + duration if duration else None
    )
    return token


def revoke_api_token(*, user) -> bool:
    """Delete `user`'s token (its details go with it); False if they had none."""
    deleted, _rows = Token.objects.filter(user=user).delete()
    return bool(deleted)


def active_api_tokens(*, now: datetime | None = None) -> QuerySet[Token]:
    """Tokens that still authenticate: not expired (a token without details predates expiry and
    has none)."""
    now = now or timezone.now()
    return (
        Token.objects.select_related("user", "details")
        .filter(
            Q(details__isnull=True)
            | Q(details__expires_at__isnull=True)
            | Q(details__expires_at__gt=now)
        )
        .order_by("user__username")
    )
