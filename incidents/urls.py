from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("declare/", views.incident_declare, name="declare"),
    path("who-to-call/", views.who_to_call, name="who-to-call"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/acknowledge/", views.incident_acknowledge, name="acknowledge"),
    path("<int:pk>/mitigate/", views.incident_transition, {"name": "mitigate"}, name="mitigate"),
    path("<int:pk>/resolve/", views.incident_transition, {"name": "resolve"}, name="resolve"),
    path("<int:pk>/close/", views.incident_transition, {"name": "close"}, name="close"),
    path("<int:pk>/reopen/", views.incident_reopen, name="reopen"),
    path("<int:pk>/notes/", views.incident_add_note, name="add-note"),
]
