import hmac

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from core.roles import role_of


class RolePermission(DjangoModelPermissions):
    """The default API permission: login always, and the model permission the
    user's role grants for the method (view for reads, add/change/delete for
    writes). An @action may name its own permission in `action_permissions`.
    Views without a queryset are readable by any user with a role and writable by
    nobody unless they say otherwise (a method they lack answers 405, not 403).
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        required = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if required:
            return user.has_perms([required] if isinstance(required, str) else required)
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            if role_of(user) is None:
                return False
            # A method the view does not have is let through to its 405 Method Not Allowed:
            # a 403 would say that some other role could do it.
            return request.method in SAFE_METHODS or request.method not in view.allowed_methods
        return super().has_permission(request, view)

    def _queryset(self, view):
        # Only the queryset's model is needed here: building the view's queryset (annotations,
        # select_related) for it would be done again by the view. The model is known per view and
        # action.
        key = (type(view), getattr(view, "action", None))
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = super()._queryset(view).model
        return model._default_manager.none()


_MODELS: dict[tuple[type, str | None], type] = {}


class Public(BasePermission):
    """Named, so a reader sees that being open is a decision (only /api/health)."""

    def has_permission(self, request, view):
        return True


class HasRole(BasePermission):
    """Logged in and holding a role: a user without one sees no data, not even the
    API's root, schema or docs (they name every resource and field)."""

    def has_permission(self, request, view):
        return role_of(request.user) is not None


class ScrapeToken(BasePermission):
    """`Authorization: Bearer <PORTAL_METRICS_TOKEN>`: Prometheus scrapes without a user."""

    def has_permission(self, request, view):
        expected = settings.PORTAL_METRICS_TOKEN
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if not expected or scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), expected.encode())
