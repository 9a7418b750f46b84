"""DRF's token authentication, plus expiry and a last-used time (portal.models.TokenDetails)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        try:
            token = self.get_model().objects.select_related("user", "details").get(key=key)
        except self.get_model().DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        # a token made outside the portal has none: no expiry
        details = getattr(token, "details", None)
        if details is not None:
            now = timezone.now()
            if details.is_expired(now):
                raise exceptions.AuthenticationFailed(
                    _("This API token has expired: create a new one on your API token page."),
                    code="token_expired",
                )
            details.record_use(now)
        return token.user, token
