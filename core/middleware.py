from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

from core import languages
from core.roles import role_of

# The public status pages (status.urls.public_urlpatterns): the only pages open without a login.
PUBLIC_PREFIXES = ("/status/",)


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Login everywhere except the public status pages; the API answers for itself.

    DRF authenticates tokens inside the view, after this middleware, so API
    requests are left to DRF's permission classes (never AllowAny by default),
    which answer 401/403 instead of redirecting a script to a login page.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        if request.path_info.startswith(PUBLIC_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


def role_not_required(view_func):
    """A page any logged-in user may open, role or not: logging out, changing one's password."""
    view_func.role_required = False
    return view_func


class RoleRequiredMiddleware:
    """A logged-in user without a role sees no data: every page answers 403 with a page
    that says to ask a manager for a role. The API answers for itself (RolePermission)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if (
            request.path_info.startswith(("/api/", *PUBLIC_PREFIXES))
            or not request.user.is_authenticated
        ):
            return None
        if not getattr(view_func, "role_required", True) or not getattr(
            view_func, "login_required", True
        ):
            return None
        if role_of(request.user) is not None:
            return None
        return render(request, "portal/no_role.html", status=403)


class BodySizeLimitMiddleware:
    """Refuse a request body larger than settings.MAX_REQUEST_BYTES with 413.

    Django caps form and JSON fields in memory (DATA_UPLOAD_MAX_MEMORY_SIZE)
    but streams file uploads of any size to disk; this stops an oversized
    upload before a byte of it is read.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            return too_large(request)
        return self.get_response(request)


def too_large(request):
    limit = settings.MAX_REQUEST_BYTES // (1024 * 1024)
    message = _("The request is too large: at most %(limit)d MiB may be sent.") % {"limit": limit}
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {"detail": message, "code": "too_large", "codes": ["too_large"]}, status=413
        )
    return render(request, "413.html", {"message": message}, status=413)


class SessionLanguageMiddleware:
    """Show pages in the language this session chose or the signed-in user stored.

    Runs after LocaleMiddleware (which went by cookie, then Accept-Language) and
    after the session is loaded, and overrides it with the session's choice
    (core.languages). It also writes the cookie, so a fresh browser
    keeps the language after logging out. The API is left to Accept-Language.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            return self.get_response(request)
        language = request.session.get(languages.SESSION_KEY)
        if language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        # Read again: logging in (or switching) during this request may have set it.
        language = request.session.get(languages.SESSION_KEY)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            languages.set_language_cookie(response, language)
        return response


class RepeatedQueryParameterMiddleware:
    """An API query parameter given twice is refused (400): every parameter of the API takes one
    value, and Django would silently keep the last (`?page_size=500&page_size=5`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            repeated = sorted(key for key, values in request.GET.lists() if len(values) > 1)
            if repeated:
                message = _("Give each parameter once.")
                body = {key: [message] for key in repeated}
                return JsonResponse(
                    {**body, "detail": message, "code": "repeated", "codes": ["repeated"]},
                    status=400,
                )
        return self.get_response(request)
