from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.integration_list, name="integrations"),
    path("<int:pk>/", views.integration_detail, name="integration"),
    path("<int:pk>/rotate/", views.integration_rotate, name="rotate"),
]
