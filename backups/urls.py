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
]
