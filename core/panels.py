"""Panels one app shows on another app's page without either importing the other.

An AppConfig lists them under a page's name
(`panels = {"who_to_call": [(template, context function)]}`); the page renders each template with
what its function returns (`function(request=…, now=…)`).
The dashboard's panels work the same way (AppConfig.dashboard_panels).
"""

from django.apps import apps
from django.utils.module_loading import import_string


def collect(page: str, *, request, now) -> list[dict]:
    panels = []
    for config in apps.get_app_configs():
        for template, function, *permission in getattr(config, "panels", {}).get(page, ()):
            if permission and not request.user.has_perm(permission[0]):
                continue
            panels.append(
                {"template": template, "context": import_string(function)(request=request, now=now)}
            )
    return panels
