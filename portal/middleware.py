from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Login everywhere; the API answers for itself.

    DRF authenticates tokens inside the view, after this middleware, so API
    requests are left to DRF's permission classes (never AllowAny by default),
    which answer 401/403 instead of redirecting a script to a login page.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
