from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.integration_list, name="integrations"),
    path("new/", views.integration_create, name="create"),
    path("<int:pk>/", views.integration_detail, name="integration"),
    path("<int:pk>/edit/", views.integration_edit, name="edit"),
    path("<int:pk>/rotate/", views.integration_rotate, name="rotate"),
]
