from django.urls import path

from probes import views

app_name = "probes"

urlpatterns = [
    path("", views.probe_grid, name="grid"),
    path("new/", views.probe_choose_kind, name="choose-kind"),
    path("new/<str:kind>/", views.probe_create, name="create"),
    path("<int:pk>/", views.probe_detail, name="detail"),
    path("<int:pk>/edit/", views.probe_edit, name="edit"),
    path("<int:pk>/run/", views.probe_run, name="run"),
    path("hosts/", views.host_list, name="hosts"),
    path("hosts/new/", views.host_create, name="host-create"),
    path("hosts/<int:pk>/", views.host_detail, name="host"),
    path("hosts/<int:pk>/edit/", views.host_edit, name="host-edit"),
    path("hosts/<int:pk>/token/", views.host_rotate_token, name="host-token"),
    path("hosts/<int:pk>/portal_agent.py", views.host_agent, name="host-agent"),
]
