from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from alerts import api as alerts_api
from backups import api as backups_api
from checklists import api as checklists_api
from core.middleware import role_not_required
from core.permissions import HasRole
from incidents import api as incidents_api
from oncall import api as oncall_api
from portal import api, views
from probes import api as probes_api


class APIRootView(DefaultRouter.APIRootView):
    permission_classes = [HasRole]


class Router(DefaultRouter):
    """Ids in URLs are integers that fit the database's 64-bit column: anything else matches
    no route (404) instead of reaching the database (a 500 on "…/null/…" or 2**64)."""

    APIRootView = APIRootView

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        if not hasattr(viewset, "lookup_value_regex"):
            viewset.lookup_value_regex = "[0-9]{1,18}"
        return super().get_lookup_regex(viewset, lookup_prefix)


router = Router(trailing_slash=False)
router.register("tasks", api.TaskViewSet)
router.register("schedules", api.ScheduleViewSet)
router.register("services", incidents_api.ServiceViewSet)
router.register("tiers", incidents_api.TierViewSet)
router.register("contacts", incidents_api.ContactViewSet, basename="contact")
router.register("channels", incidents_api.NotificationChannelViewSet)
router.register(
    "escalation-policies", incidents_api.EscalationPolicyViewSet, basename="escalationpolicy"
)
router.register("maintenance-windows", incidents_api.MaintenanceWindowViewSet)
router.register("recurring-maintenance-windows", incidents_api.RecurringMaintenanceWindowViewSet)
router.register("incidents", incidents_api.IncidentViewSet, basename="incident")
router.register("notifications", incidents_api.NotificationViewSet)
router.register("routes", incidents_api.RouteViewSet)
router.register("backup-targets", backups_api.BackupTargetViewSet, basename="backuptarget")
router.register("backup-runs", backups_api.BackupRunViewSet, basename="backuprun")
router.register("restores", backups_api.RestoreRunViewSet, basename="restorerun")
router.register("rehearsals", backups_api.RehearsalViewSet, basename="rehearsal")
router.register("restic-repositories", backups_api.RepositoryViewSet, basename="repository")
router.register("recoverability", backups_api.ScorecardViewSet, basename="recoverability")
router.register("postmortems", incidents_api.PostmortemViewSet, basename="postmortem")
router.register("action-items", incidents_api.ActionItemViewSet, basename="actionitem")
router.register("reports", incidents_api.ReportViewSet, basename="report")
router.register("probes", probes_api.ProbeViewSet, basename="probe")
router.register("probe-results", probes_api.ProbeResultViewSet)
router.register("checklist-templates", checklists_api.TemplateViewSet, basename="checklisttemplate")
router.register("checklist-runs", checklists_api.RunViewSet, basename="checklistrun")
router.register("handover-notes", checklists_api.HandoverNoteViewSet, basename="handovernote")
router.register("playbooks", checklists_api.PlaybookViewSet, basename="playbook")
router.register("runbook-imports", checklists_api.RunbookImportViewSet, basename="runbookimport")
router.register("oncall-schedules", oncall_api.ScheduleViewSet, basename="oncallschedule")
router.register("oncall-layers", oncall_api.LayerViewSet, basename="oncalllayer")
router.register("oncall-overrides", oncall_api.OverrideViewSet)
router.register("integrations", alerts_api.IntegrationViewSet, basename="integration")

# Swagger UI (split view: its start-up script is a separate request, not inline)
# and Redoc run under the strict policy except that they write <style> blocks
# and Redoc starts its search worker from a blob: URL.
docs_policy = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]})

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path(
        "account/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    # A user without a role may still log out and change their password.
    path("account/logout/", role_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path(
        "account/password/",
        role_not_required(auth_views.PasswordChangeView.as_view()),
        name="password_change",
    ),
    path(
        "account/password/done/",
        role_not_required(auth_views.PasswordChangeDoneView.as_view()),
        name="password_change_done",
    ),
    path("account/token/", views.api_token, name="api-token"),
    path("audit/", views.audit, name="audit"),
    path("account/token/create/", views.api_token_create, name="api-token-create"),
    path("account/token/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("account/tokens/revoke/", views.api_tokens_revoke, name="api-tokens-revoke"),
    path("incidents/", include("incidents.urls")),
    path("backups/", include("backups.urls")),
    path("probes/", include("probes.urls")),
    path("checklists/", include("checklists.urls")),
    path("", include("status.urls")),
    path("oncall/", include("oncall.urls")),
    path("integrations/", include("alerts.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("api/health", views.api_health, name="api-health"),
    path("api/metrics", views.api_metrics, name="api-metrics"),
    path("api/schema/", api.SchemaView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        docs_policy(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", template_name="portal/api_swagger.html"
            )
        ),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        docs_policy(
            SpectacularRedocView.as_view(
                url_name="api-schema", template_name="portal/api_redoc.html"
            )
        ),
        name="api-redoc",
    ),
    path("api/v1/heartbeats/<uuid:token>", probes_api.heartbeat, name="heartbeat"),
    path("api/v1/heartbeats/<uuid:token>/fail", probes_api.heartbeat_fail, name="heartbeat-fail"),
    path("api/v1/agent/checks", probes_api.agent_checks, name="agent-checks"),
    path("api/v1/agent/results", probes_api.agent_results, name="agent-results"),
    path("api/v1/integrations/<uuid:token>/alerts", alerts_api.intake, name="integration-alerts"),
    path("api/v1/", include(router.urls)),
]

admin.site.site_header = admin.site.site_title = "Ops Portal"
# The app list is on the admin's home page; as a sidebar on every page it took a quarter of a
# laptop's width from the lists.
admin.site.enable_nav_sidebar = False
handler404 = "portal.views.page_not_found"
