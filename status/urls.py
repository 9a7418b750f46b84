from django.urls import path

from status import views

app_name = "status"

# Public: everything under /status/ (core.middleware.PUBLIC_PREFIXES). Nothing else may go there.
public_urlpatterns = [
    path("status/<slug:slug>/", views.status_page, name="page"),
    path("status/<slug:slug>/status.json", views.status_json, name="json"),
    path("status/<slug:slug>/feed.atom", views.status_feed, name="feed"),
    path("status/<slug:slug>/subscribe/", views.subscribe, name="subscribe"),
    path("status/<slug:slug>/confirm/<str:token>/", views.confirm, name="confirm"),
    path("status/<slug:slug>/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

urlpatterns = [
    *public_urlpatterns,
    path("status-pages/", views.page_list, name="pages"),
    path(
        "status-pages/components/<int:pk>/override/",
        views.component_override,
        name="component-override",
    ),
    path("status-pages/incidents/<int:pk>/public/", views.incident_mark_public, name="mark-public"),
    path(
        "status-pages/incidents/<int:pk>/updates/", views.incident_post_update, name="post-update"
    ),
    path("status-pages/incidents/<int:pk>/notice/", views.incident_notice, name="notice"),
]
