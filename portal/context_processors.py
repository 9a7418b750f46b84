from django.apps import apps
from django.conf import settings
from django.urls import reverse

from portal import __version__


def nav_items(request) -> list[dict]:
    """Each app's AppConfig.nav: [(url name, label)] or [(url name, label, permission)]
    for a page only some roles may open; its `nav_more` the same for pages of the "More" menu
    (managers' and admins' tools), so the menu stays one line on a laptop. The current link is the
    one whose address is the longest start of the page's (an incident's page is under Incidents, a
    playbook's under Playbooks); an app's `nav_also` names pages elsewhere that belong to a link
    ({"checklists:runs": ["checklists:templates", …]})."""
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    links = []
    for config in apps.get_app_configs():
        also = getattr(config, "nav_also", {})
        for more, group in (
            (False, getattr(config, "nav", ())),
            (True, getattr(config, "nav_more", ())),
        ):
            for name, label, permission in ((*link, None)[:3] for link in group):
                if permission and not request.user.has_perm(permission):
                    continue
                links.append(
                    {
                        "name": name,
                        "url": reverse(name),
                        "label": label,
                        "also": also.get(name, ()),
                        "more": more,
                    }
                )
    owner = next((link for link in links if current in link["also"]), None)
    if owner is None:
        under = [link for link in links if request.path.startswith(link["url"])]
        owner = max(under, key=lambda link: len(link["url"]), default=None)
    return [
        {"url": link["url"], "label": link["label"], "active": link is owner, "more": link["more"]}
        for link in links
    ]


def portal(request):
    items = nav_items(request) if request.user.is_authenticated else []
    return {
        "portal_version": __version__,
        "portal_time_zone": settings.TIME_ZONE,
        "nav_items": items,
        "nav_more": [item for item in items if item["more"]],
    }
