from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from probes import services
from probes.models import Probe, ProbeResult


@admin.action(description=_("Run selected probes now"), permissions=["run"])
def run_now(modeladmin, request, queryset):
    probes = [probe for probe in queryset.select_related("service") if not probe.is_heartbeat]
    if probes:
        services.record_results(outcomes=services.run_checks(probes))
    messages.success(request, ngettext("%(count)d probe ran.", "%(count)d probes ran.", len(probes))
                     % {"count": len(probes)})


@admin.register(Probe)
class ProbeAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "kind", "status", "status_since", "last_latency_ms", "alerting", "enabled"]
    list_filter = ["kind", "status", "enabled", "alerting", "service"]
    search_fields = ["name", "service__name"]
    list_select_related = ["service"]
    raw_id_fields = ["incident"]
    readonly_fields = ["token", "status", "status_since", "consecutive_failures", "consecutive_successes",
                       "alerting", "last_alert_at", "last_run_at", "last_value", "last_latency_ms", "last_message",
                       "last_ping_at", "next_run_at", "created_at"]
    actions = [run_now]

    def has_run_permission(self, request):
        return request.user.has_perm("probes.run_probe")


@admin.register(ProbeResult)
class ProbeResultAdmin(admin.ModelAdmin):
    list_display = ["at", "probe", "status", "value", "latency_ms", "message"]
    list_filter = ["status"]
    date_hierarchy = "at"
    raw_id_fields = ["probe"]
    list_select_related = ["probe"]
    search_fields = ["message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
