from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("declare/", views.incident_declare, name="declare"),
    path("who-to-call/", views.who_to_call, name="who-to-call"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/acknowledge/", views.incident_acknowledge, name="acknowledge"),
    path("ack/<str:token>/", views.acknowledge_link, name="ack-link"),
    path("<int:pk>/mitigate/", views.incident_transition, {"name": "mitigate"}, name="mitigate"),
    path("<int:pk>/resolve/", views.incident_resolve, name="resolve"),
    path("<int:pk>/close/", views.incident_transition, {"name": "close"}, name="close"),
    path("<int:pk>/reopen/", views.incident_reopen, name="reopen"),
    path("<int:pk>/notes/", views.incident_add_note, name="add-note"),
    path("postmortems/", views.postmortem_list, name="postmortems"),
    path("reports/", views.incident_reports, name="reports"),
    path("<int:pk>/postmortem/", views.postmortem_detail, name="postmortem"),
    path("<int:pk>/postmortem/edit/", views.postmortem_edit, name="postmortem-edit"),
    path("<int:pk>/postmortem/submit/", views.postmortem_submit, name="postmortem-submit"),
    path("<int:pk>/postmortem/publish/", views.postmortem_publish, name="postmortem-publish"),
    path("<int:pk>/postmortem/print/", views.postmortem_print, name="postmortem-print"),
    path("<int:pk>/postmortem.md", views.postmortem_markdown, name="postmortem-markdown"),
    path("routes/", views.route_list, name="routes"),
    path("routes/new/", views.route_new, name="route-new"),
    path("routes/<int:pk>/", views.route_edit, name="route-edit"),
    path("routes/<int:pk>/delete/", views.route_delete, name="route-delete"),
    path(
        "action-items/<int:pk>/complete/", views.action_item_complete, name="action-item-complete"
    ),
]
