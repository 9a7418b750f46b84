from django.urls import reverse

from checklists.models import HandoverNote, Playbook, Run
from incidents.models import EventKind
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_incident, make_service
from tests.probes.factories import make_probe


def test_completing_a_shift_run_asks_for_the_handover_with_open_incidents_filled_in(client_as):
    incident = make_incident(title="Payments slow")
    run = make_run(make_template("Daily 09:00", schedule="0 9 * * *", items=["One"]))
    client = client_as("operator")
    client.post(reverse("checklists:tick", args=[run.pk, run.items.get().pk]), {"state": "done"})
    form = client.get(reverse("checklists:complete", args=[run.pk])).content.decode()
    assert "Payments slow" in form and 'name="risks"' in form
    client.post(
        reverse("checklists:complete", args=[run.pk]),
        {"risks": "Certificate expires Friday", "planned_changes": "DB upgrade 22:00"},
    )
    note = HandoverNote.objects.get(run=run)
    assert (
        note.open_incidents[0]["id"] == incident.pk and note.planned_changes == "DB upgrade 22:00"
    )


def test_the_handover_form_starts_with_the_probes_that_are_not_ok_offered_by_the_probes_app(
    client_as,
):
    make_probe(make_service("Payments"), name="checkout", status="critical")
    make_probe(name="quiet", status="ok")
    run = make_run(make_template("Daily 09:00", schedule="0 9 * * *", items=["One"]))
    client = client_as("operator")
    client.post(reverse("checklists:tick", args=[run.pk, run.items.get().pk]), {"state": "done"})
    form = client.get(reverse("checklists:complete", args=[run.pk])).context["form"]
    assert form.initial["probes"] == "- Payments / checkout: critical"


def test_the_next_shift_sees_the_handover_until_it_is_acknowledged(client_as):
    template = make_template("Daily", schedule="0 9 * * *", items=["One"])
    done = make_run(template)
    HandoverNote.objects.create(run=done, risks="Certificate expires Friday")
    Run.objects.filter(pk=done.pk).update(status="completed")
    next_run = make_run(template)
    client = client_as("operator")
    page = client.get(next_run.get_absolute_url()).content.decode()
    assert "Certificate expires Friday" in page
    note = HandoverNote.objects.get()
    client.post(
        reverse("checklists:handover-acknowledge", args=[note.pk]),
        {"next": next_run.get_absolute_url()},
    )
    assert (
        "Certificate expires Friday" not in client.get(next_run.get_absolute_url()).content.decode()
    )
    note.refresh_from_db()
    assert note.acknowledged_by == client.user


def test_the_incident_page_shows_the_matching_playbook_sanitised_and_starts_its_checklist(
    client_as,
):
    service = make_service("Payments")
    incident = make_incident(service, category="API down")
    recovery = make_template("Recovery list", kind="recovery", items=["Write down the time"])
    Playbook.objects.create(
        title="API down",
        service=service,
        category="api down",
        template=recovery,
        body="## Symptoms\n<img src=x onerror=alert(1)>\n\n```bash\nsystemctl restart api\n```",
    )
    Playbook.objects.create(
        title="Other service", service=make_service(), category="API down", body="nope"
    )
    client = client_as("operator")
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "systemctl restart api" in page and "<img" not in page and "Other service" not in page
    assert "Recovery list" in page
    response = client.post(
        reverse("checklists:start-for-incident", args=[incident.pk]), {"template": recovery.pk}
    )
    run = Run.objects.get(incident=incident)
    assert response["Location"] == run.get_absolute_url()
    client.post(reverse("checklists:tick", args=[run.pk, run.items.get().pk]), {"state": "done"})
    messages = [event.text for event in incident.events.filter(kind=EventKind.CHECKLIST)]
    assert any("Recovery list" in m for m in messages) and any(
        "Write down the time" in m for m in messages
    )
    assert "Write down the time: done" in client.get(incident.get_absolute_url()).content.decode()


def test_a_viewer_sees_the_playbook_but_no_start_button(client_as):
    service = make_service()
    incident = make_incident(service)
    make_template("Recovery", kind="recovery")
    Playbook.objects.create(title="Runbook", service=service, body="Restart it.")
    page = client_as("viewer").get(incident.get_absolute_url()).content.decode()
    assert "Restart it." in page and "Start checklist" not in page


def test_managers_edit_playbooks_with_a_preview(client_as):
    client = client_as("manager")
    service = make_service()
    data = {
        "title": "DB down",
        "service": service.pk,
        "category": "database unreachable",
        "body": "**Check** the <script>x</script> file",
    }
    preview = client.post(reverse("checklists:playbook-new"), {**data, "preview": "1"})
    assert (
        "<strong>Check</strong>" in preview.content.decode()
        and "<script>x" not in preview.content.decode()
    )
    assert not Playbook.objects.exists()
    response = client.post(reverse("checklists:playbook-new"), data)
    assert response.status_code == 302 and Playbook.objects.get().title == "DB down"
    assert client_as("operator").get(reverse("checklists:playbook-new")).status_code == 403


def test_the_dashboard_shows_todays_runs_with_progress_overdue_first(client_as):
    late = make_run(make_template("Late check"))
    Run.objects.filter(pk=late.pk).update(status="overdue")
    make_run(make_template("Fresh check"))
    page = client_as("viewer").get(reverse("dashboard")).content.decode()
    assert page.index("Late check") < page.index("Fresh check") and "0 / 2" in page


def test_the_demo_data_is_idempotent(db):
    from checklists import demo

    first = demo.seed()
    second = demo.seed()
    assert first.startswith("5 templates, 1 run") and second == "0 templates, 0 run in progress"
    assert Run.objects.filter(status="in_progress").count() == 1


def test_the_demo_checks_name_the_portals_own_address(db, settings):
    from checklists import demo
    from checklists.models import Item

    settings.BASE_URL = "http://127.0.0.1:8123"  # PORTAL_PORT=8123 make run
    demo.seed()
    commands = set(
        Item.objects.filter(command__contains="/api/health").values_list("command", flat=True)
    )
    assert commands == {"curl -fsS http://127.0.0.1:8123/api/health"}
