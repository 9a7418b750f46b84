from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    # What an operator may do beyond reading (DESIGN §7); managers get every
    # add/change/delete of this app on top (portal.roles).
    operator_permissions = [
        "incidents.add_incident",
        "incidents.change_incident",
        "incidents.add_timelineevent",
        "incidents.add_maintenancewindow",
    ]

    nav = [("incidents:list", _("Incidents")), ("incidents:who-to-call", _("Who to call"))]
    dashboard_panels = [("incidents/_dashboard_panel.html", "incidents.dashboard.panel")]

    schedules = [
        {"name": "incidents.escalate", "func": "incidents.tasks.escalate", "schedule_type": "I", "minutes": 1,
         "cluster": None},
        {"name": "incidents.retry_notifications", "func": "incidents.tasks.retry_notifications",
         "schedule_type": "I", "minutes": 1, "cluster": None},
    ]
