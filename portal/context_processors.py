from django.apps import apps
from django.conf import settings
from django.urls import reverse

from portal import __version__


def nav_items(request) -> list[dict]:
    """Each app's AppConfig.nav: [(url name, label)] or [(url name, label, permission)]
    for a page only some roles may open. An app's first link is also current on the
    app's other pages (an incident's detail page, say)."""
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    items = []
    for config in apps.get_app_configs():
        links = [(*link, None)[:3] for link in getattr(config, "nav", ())]
        names = {name for name, _label, _perm in links}
        for index, (name, label, permission) in enumerate(links):
            if permission and not request.user.has_perm(permission):
                continue
            active = current == name or (
                index == 0 and match is not None and match.namespace == name.split(":")[0] and current not in names)
            items.append({"url": reverse(name), "label": label, "active": active})
    return items


def portal(request):
    return {
        "portal_version": __version__,
        "portal_time_zone": settings.TIME_ZONE,
        "nav_items": nav_items(request) if request.user.is_authenticated else [],
    }
