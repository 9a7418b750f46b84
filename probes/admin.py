import json

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.template_utils import HistoricalRecordContextHelper

from core.admin import HistoryAdmin, SecretFieldsAdmin
from core.secrets import mask_token
from probes import services
from probes.models import Host, Probe, ProbeResult, keep_stored_config, mask_config


@admin.action(description=_("Run selected probes now"), permissions=["run"])
def run_now(modeladmin, request, queryset):
    probes = [probe for probe in queryset.select_related("service") if not probe.is_heartbeat]
    if probes:
        services.record_results(outcomes=services.run_checks(probes))
    messages.success(
        request,
        ngettext("%(count)d probe ran.", "%(count)d probes ran.", len(probes))
        % {"count": len(probes)},
    )


class ProbeAdminForm(forms.ModelForm):
    """The config shown masked; masked pieces sent back unchanged keep the stored secrets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["config"] = self.instance.shown_config

    def clean_config(self):
        config = self.cleaned_data["config"]
        if self.instance.pk:
            stored = (
                Probe.objects.filter(pk=self.instance.pk).values_list("config", flat=True).first()
            )
            config = keep_stored_config(config, stored or {})
        return config


class MaskedHistory(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change, value):
        if change.field == "config" and isinstance(value, dict):
            return mask_config(value)
        return super().prepare_delta_change_value(change, value)


@admin.register(Probe)
class ProbeAdmin(SecretFieldsAdmin, HistoryAdmin):
    form = ProbeAdminForm
    secret_fields = {"config": "shown_config"}
    list_display = [
        "name",
        "service",
        "kind",
        "status",
        "status_since",
        "last_latency_ms",
        "alerting",
        "enabled",
    ]
    list_filter = ["kind", "status", "enabled", "alerting", "service"]
    search_fields = ["name", "service__name"]
    list_select_related = ["service"]
    raw_id_fields = ["incident"]
    readonly_fields = [
        "shown_token",
        "status",
        "status_since",
        "consecutive_failures",
        "consecutive_successes",
        "alerting",
        "last_alert_at",
        "last_run_at",
        "last_value",
        "last_latency_ms",
        "last_message",
        "last_ping_at",
        "next_run_at",
        "created_at",
    ]
    actions = [run_now]

    def has_run_permission(self, request):
        return request.user.has_perm("probes.run_probe")

    def get_readonly_fields(self, request, obj=None):
        # The open incident is the alerting's to set and clear (probes.services), never typed in.
        return [*super().get_readonly_fields(request, obj), "incident"]

    def get_historical_record_context_helper(self, request, historical_record):
        return MaskedHistory(self.model, historical_record)

    @admin.display(description=_("settings"))
    def shown_config(self, obj):
        return json.dumps(obj.shown_config, ensure_ascii=False, indent=2)

    @admin.display(description=_("ping token"))
    def shown_token(self, obj):
        # The ping URL is on the probe's page for those who may change it; never here.
        return mask_token(obj.token) if obj.is_heartbeat else "-"


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


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    """Hosts are added on the portal's page, which shows the new token once; here they are
    edited."""

    list_display = [
        "name",
        "service",
        "last_seen_at",
        "agent_version",
        "silent",
        "allow_commands",
        "enabled",
    ]
    list_filter = ["silent", "enabled", "allow_commands"]
    search_fields = ["name"]
    list_select_related = ["service"]
    readonly_fields = [
        "last_seen_at",
        "agent_version",
        "silent",
        "silent_incident",
        "rejected_results",
        "last_rejection",
        "last_rejected_at",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False
