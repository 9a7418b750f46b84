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
]
