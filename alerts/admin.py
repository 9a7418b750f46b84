from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from alerts import services
from alerts.models import Alert, Delivery, Integration
from core.admin import HistoryAdmin
from core.secrets import mask_token


@admin.action(description=_("Make new URLs for the selected integrations"), permissions=["change"])
def rotate_urls(modeladmin, request, queryset):
    rotated = [services.rotate_token(integration=integration) for integration in queryset]
    messages.success(
        request,
        ngettext(
            "%(count)d integration has a new URL.",
            "%(count)d integrations have a new URL.",
            len(rotated),
        )
        % {"count": len(rotated)},
    )


@admin.register(Integration)
class IntegrationAdmin(HistoryAdmin):
    list_display = [
        "name",
        "kind",
        "default_service",
        "default_severity",
        "group_by_key",
        "enabled",
    ]
    list_filter = ["kind", "enabled", "default_service"]
    search_fields = ["name"]
    list_select_related = ["default_service"]
    autocomplete_fields = ["default_service"]
    # The URL is on the integration's page for managers; here only its last characters.
    readonly_fields = ["shown_token", "created_at"]
    actions = [rotate_urls]

    @admin.display(description=_("URL token"))
    def shown_token(self, obj):
        return mask_token(obj.token)


class RecordAdmin(admin.ModelAdmin):
    """Written by the intake only: read, and deleted by managers."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(RecordAdmin):
    list_display = [
        "title",
        "integration",
        "fingerprint",
        "status",
        "outcome",
        "fire_count",
        "last_seen_at",
        "incident",
    ]
    list_filter = ["status", "outcome", "integration"]
    search_fields = ["title", "fingerprint"]
    list_select_related = ["integration", "incident"]
    date_hierarchy = "last_seen_at"
    raw_id_fields = ["incident"]


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    list_display = ["received_at", "integration", "status_code", "alert_count", "body_size"]
    list_filter = ["status_code", "integration"]
    list_select_related = ["integration"]
    date_hierarchy = "received_at"
