from django.urls import path

from oncall import views

app_name = "oncall"

urlpatterns = [
    path("", views.schedule_list, name="list"),
    path("<int:pk>/", views.schedule_detail, name="detail"),
    path("<int:pk>/overrides/", views.override_add, name="override-add"),
    path("overrides/<int:pk>/delete/", views.override_delete, name="override-delete"),
    path("<int:pk>/feed/<str:token>.ics", views.schedule_feed, name="feed"),
    path("people/<int:pk>/feed/<str:token>.ics", views.personal_feed, name="personal-feed"),
]
