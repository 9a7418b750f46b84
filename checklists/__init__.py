"""Shift checklists, incident checklists, playbooks and runbook import (DESIGN §4)."""


def incident_panel(*, incident, user) -> dict:
    """Context for the incident page: matching playbooks (rendered, sanitised), the incident
    checklists that can be started, and the runs already linked to the incident."""
    from django.db.models import Q

    from checklists.markdown import render
    from checklists.models import Playbook, Run, Template

    playbooks = [
        p
        for p in Playbook.objects.filter(Q(service=incident.service_id) | Q(service__isnull=True))
        .select_related("template")
        .order_by("title")
        if p.matches(incident)
    ]
    return {
        "checklist_playbooks": [{"playbook": p, "html": render(p.body)} for p in playbooks],
        "checklist_templates": list(Template.objects.for_incident(incident)),
        "checklist_runs": list(
            Run.objects.filter(incident=incident).with_progress().order_by("-id")
        ),
        "checklist_can_start": user.has_perm("checklists.add_run"),
    }
