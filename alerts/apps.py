from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alert integrations")

    # Integrations are configuration: managers add, change and rotate them (core.roles);
    # their URL is a credential, so the page and the API show it to managers only.
    nav_more = [("alerts:integrations", _("Integrations"), "alerts.change_integration")]
    # The alerts behind an incident (labels, annotations, links) on its page.
    incident_panels = [("alerts/_incident_panel.html", "alerts.views.incident_panel")]

    schedules = [
        {
            "name": "alerts.prune_deliveries",
            "func": "alerts.tasks.prune_deliveries",
            "schedule_type": "H",
            "cluster": None,
        },
    ]
