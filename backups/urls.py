from django.urls import path

from backups import views

app_name = "backups"

urlpatterns = [
    path("", views.target_list, name="targets"),
    path("targets/<int:pk>/", views.target_detail, name="target"),
    path("targets/<int:pk>/run/", views.run_now, name="run-now"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/verify/", views.verify_now, name="verify"),
    path("runs/<int:pk>/restore/", views.restore, name="restore"),
    path("repositories/", views.repository_list, name="repositories"),
    path("repositories/new/", views.repository_new, name="repository-new"),
    path("repositories/<int:pk>/", views.repository_detail, name="repository"),
    path("repositories/<int:pk>/edit/", views.repository_edit, name="repository-edit"),
    path(
        "repositories/<int:pk>/init/",
        views.repository_action,
        {"verb": "init"},
        name="repository-init",
    ),
    path(
        "repositories/<int:pk>/refresh/",
        views.repository_action,
        {"verb": "refresh"},
        name="repository-refresh",
    ),
    path(
        "repositories/<int:pk>/check/",
        views.repository_action,
        {"verb": "check"},
        name="repository-check",
    ),
    path("recoverability/", views.scorecard, name="scorecard"),
]
