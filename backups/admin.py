from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from backups import services
from backups.models import BackupRun, BackupTarget, Rehearsal, RestoreRun, Trigger
from portal.errors import DomainError


@admin.action(description=_("Run a backup now"), permissions=["add"])
def run_backup_now(modeladmin, request, queryset):
    queued = 0
    for target in queryset:
        try:
            services.queue_backup(target=target, trigger=Trigger.MANUAL, by=request.user)
            queued += 1
        except DomainError as exc:
            messages.warning(request, exc.message)
    messages.success(request, ngettext("%(count)d backup queued.", "%(count)d backups queued.", queued)
                     % {"count": queued})


@admin.register(BackupTarget)
class BackupTargetAdmin(SimpleHistoryAdmin):
    list_display = ["name", "service", "kind", "schedule", "keep_last", "verify", "enabled", "next_run_at"]
    list_filter = ["kind", "enabled", "verify", "service"]
    search_fields = ["name", "source", "destination"]
    list_select_related = ["service"]
    autocomplete_fields = ["service"]
    readonly_fields = ["next_run_at", "created_at"]
    actions = [run_backup_now]


@admin.register(BackupRun)
class BackupRunAdmin(SimpleHistoryAdmin):
    list_display = ["id", "target", "trigger", "status", "started_at", "size", "verification", "pruned_at"]
    list_filter = ["status", "trigger", "verification", "target"]
    search_fields = ["target__name", "file", "sha256"]
    date_hierarchy = "queued_at"
    list_select_related = ["target"]
    raw_id_fields = ["target", "requested_by"]
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    def has_add_permission(self, request):
        return False  # runs are made by the scheduler or "run now", never typed in


@admin.register(RestoreRun)
class RestoreRunAdmin(admin.ModelAdmin):
    list_display = ["id", "target", "backup", "status", "requested_by", "requested_at", "finished_at"]
    list_filter = ["status", "target"]
    date_hierarchy = "requested_at"
    list_select_related = ["target", "requested_by"]
    readonly_fields = [f.name for f in RestoreRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Rehearsal)
class RehearsalAdmin(admin.ModelAdmin):
    list_display = ["id", "target", "backup", "started_at", "passed"]
    list_filter = ["passed", "target"]
    date_hierarchy = "started_at"
    list_select_related = ["target"]
    readonly_fields = [f.name for f in Rehearsal._meta.fields]

    def has_add_permission(self, request):
        return False
