from django.urls import path

from checklists import views

app_name = "checklists"

urlpatterns = [
    path("", views.my_shift, name="my-shift"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/items/<int:item_pk>/tick/", views.run_tick, name="tick"),
    path("runs/<int:pk>/items/<int:item_pk>/untick/", views.run_untick, name="untick"),
    path(
        "runs/<int:pk>/items/<int:item_pk>/incident/", views.run_open_incident, name="open-incident"
    ),
    path("runs/<int:pk>/complete/", views.run_complete, name="complete"),
    path(
        "handovers/<int:pk>/acknowledge/", views.handover_acknowledge, name="handover-acknowledge"
    ),
    path("incidents/<int:incident_pk>/start/", views.start_for_incident, name="start-for-incident"),
    path("templates/", views.template_list, name="templates"),
    path("templates/<int:pk>/", views.template_detail, name="template"),
    path("templates/import/", views.import_runbook, name="import"),
    path("playbooks/", views.playbook_list, name="playbooks"),
    path("playbooks/new/", views.playbook_edit, name="playbook-new"),
    path("playbooks/<int:pk>/", views.playbook_detail, name="playbook"),
    path("playbooks/<int:pk>/edit/", views.playbook_edit, name="playbook-edit"),
]
