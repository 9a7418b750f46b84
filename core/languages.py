"""The language a person reads in: chosen with the language switch, remembered per user.

Precedence on pages: a switch made in this browser session (before or after
logging in) > the signed-in user's stored choice > the language cookie >
the browser's Accept-Language. The API follows the cookie and Accept-Language
only (a token request has no session). E-mails use the recipient's stored
choice, else settings.LANGUAGE_CODE.
"""

from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.utils import translation

SESSION_KEY = "portal_language"


def language_of(user) -> str:
    """A user's stored language, or the portal's default (also for None: a contact without
    login)."""
    preference = getattr(user, "preference", None) if user is not None else None
    return (preference.language if preference is not None else "") or settings.LANGUAGE_CODE


@contextmanager
def language_for(user):
    """Render an e-mail or message in the recipient's language."""
    with translation.override(language_of(user)):
        yield


def remember_language(request, language: str, user=None) -> None:
    """The switch: this session shows `language`, and a signed-in user keeps it for the next
    login."""
    # By name: the rows belong to the site app (portal), which sits above this base layer.
    preferences = apps.get_model("portal", "UserPreference").objects
    user = user or request.user
    request.session[SESSION_KEY] = language
    if user.is_authenticated:
        preferences.update_or_create(user=user, defaults={"language": language})


def on_login(sender, request, user, **kwargs):
    """user_logged_in: every way in (our login page, the admin's, a test's force_login) passes here.

    A language switched to just before logging in wins and is stored; otherwise
    the stored choice is restored into the session.
    """
    if request is None or not hasattr(request, "session"):
        return
    chosen = request.session.get(SESSION_KEY)
    if chosen:
        remember_language(request, chosen, user)
        return
    preference = getattr(user, "preference", None)
    stored = preference.language if preference is not None else ""
    if stored:
        request.session[SESSION_KEY] = stored


def set_language_cookie(response, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
