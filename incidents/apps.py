from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    # What an operator may do beyond reading (DESIGN §7); managers get every
    # add/change/delete of this app on top (core.roles).
    operator_permissions = [
        "incidents.add_incident",
        "incidents.change_incident",
        "incidents.add_timelineevent",
        # Whoever may announce a window may end it (ending one early only turns paging back on).
        "incidents.add_maintenancewindow",
        "incidents.delete_maintenancewindow",
        "incidents.add_postmortem",
        "incidents.change_postmortem",
        "incidents.add_actionitem",
        "incidents.change_actionitem",
    ]
    # Publishing a postmortem and reading the reports are the manager's (DESIGN §7).
    manager_permissions = ["incidents.publish_postmortem", "incidents.view_reports"]

    nav = [
        ("incidents:list", _("Incidents")),
        ("incidents:who-to-call", _("Who to call")),
        ("incidents:postmortems", _("Postmortems")),
        ("incidents:reports", _("Reports"), "incidents.view_reports"),
    ]
    # Set up once by a manager, not visited every shift: in the menu's "More" so the menu stays one
    # line.
    nav_more = [("incidents:routes", _("Routes"), "incidents.change_route")]
    dashboard_panels = [
        ("incidents/_dashboard_panel.html", "incidents.dashboard.panel"),
        ("incidents/postmortems/_dashboard_panel.html", "incidents.postmortems.dashboard_panel"),
    ]

    schedules = [
        {
            "name": "incidents.escalate",
            "func": "incidents.tasks.escalate",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": None,
        },
        {
            "name": "incidents.retry_notifications",
            "func": "incidents.tasks.retry_notifications",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": None,
        },
        # Daily; the outbox's keys make a second run the same day send nothing.
        {
            "name": "incidents.send_reminders",
            "func": "incidents.tasks.send_reminders",
            "schedule_type": "D",
            "cluster": None,
        },
    ]

    def ready(self):
        from incidents import reportcache

        reportcache.connect_signals()
