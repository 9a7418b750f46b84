from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChecklistsConfig(AppConfig):
    name = "checklists"
    verbose_name = _("Checklists")

    # Operators do the shift: tick and complete runs, start incident checklists,
    # write and acknowledge handover notes. Editing templates and playbooks and
    # importing runbooks stays with managers (they get add/change/delete on every
    # model here through core.roles).
    operator_permissions = [
        "checklists.add_run",
        "checklists.change_run",
        "checklists.add_handovernote",
        "checklists.change_handovernote",
    ]

    nav = [
        ("checklists:my-shift", _("My shift")),
        ("checklists:runs", _("Checklists")),
        ("checklists:playbooks", _("Playbooks")),
    ]
    # Templates and the runbook import are where checklists come from, not part of one's shift.
    nav_also = {
        "checklists:runs": ["checklists:templates", "checklists:template", "checklists:import"]
    }
    dashboard_panels = [("checklists/_dashboard_panel.html", "checklists.dashboard.panel")]
    # Playbooks and incident checklists on the incident page (see incidents.views.incident_panels).
    incident_panels = [("checklists/_incident_panel.html", "checklists.incident_panel")]

    schedules = [
        # Every minute; a second cluster or a second call creates nothing twice
        # (unique run per template and occurrence).
        {
            "name": "checklists.materialize",
            "func": "checklists.tasks.materialize",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": None,
        },
        {
            "name": "checklists.remind_overdue",
            "func": "checklists.tasks.remind_overdue",
            "schedule_type": "I",
            "minutes": 5,
            "cluster": None,
        },
    ]
