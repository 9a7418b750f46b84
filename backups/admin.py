from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.template_utils import HistoricalRecordContextHelper

from backups import services
from backups.forms import RepositoryForm
from backups.models import BackupRun, BackupTarget, Kind, Rehearsal, Repository, RestoreRun, Trigger
from core.admin import HistoryAdmin, SecretFieldsAdmin
from core.errors import DomainError
from core.secrets import keep_stored, mask_dsn


@admin.action(description=_("Run a backup now"), permissions=["add"])
def run_backup_now(modeladmin, request, queryset):
    queued = 0
    for target in queryset:
        try:
            services.queue_backup(target=target, trigger=Trigger.MANUAL, by=request.user)
            queued += 1
        except DomainError as exc:
            messages.warning(request, exc.message)
    messages.success(
        request,
        ngettext("%(count)d backup queued.", "%(count)d backups queued.", queued)
        % {"count": queued},
    )


class TargetForm(forms.ModelForm):
    """Shows a connection string without its password; saved back unchanged, it keeps the stored
    one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["source"] = self.instance.shown_source

    def clean_source(self):
        source = self.cleaned_data["source"]
        if self.instance.pk:
            old = (
                BackupTarget.objects.filter(pk=self.instance.pk)
                .values_list("kind", "source")
                .first()
            )
            if old and old[0] == Kind.POSTGRES:
                source = keep_stored(source, old[1], mask_dsn)
        return source


class MaskedHistory(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change, value):
        if change.field == "source" and isinstance(value, str):
            return mask_dsn(value)
        return super().prepare_delta_change_value(change, value)


@admin.register(BackupTarget)
class BackupTargetAdmin(SecretFieldsAdmin, HistoryAdmin):
    form = TargetForm
    secret_fields = {"source": "shown_source"}
    list_display = [
        "name",
        "service",
        "kind",
        "schedule",
        "keep_last",
        "verify",
        "enabled",
        "next_run_at",
    ]
    list_filter = ["kind", "enabled", "verify", "service"]
    # never the source: a search would answer guesses of its password
    search_fields = [
        "name",
        "destination",
    ]
    list_select_related = ["service"]
    autocomplete_fields = ["service"]
    readonly_fields = ["next_run_at", "created_at"]
    actions = [run_backup_now]

    def get_historical_record_context_helper(self, request, historical_record):
        return MaskedHistory(self.model, historical_record)

    @admin.display(description=_("source"))
    def shown_source(self, obj):
        return obj.shown_source


@admin.register(BackupRun)
class BackupRunAdmin(HistoryAdmin):
    list_display = [
        "id",
        "target",
        "trigger",
        "status",
        "started_at",
        "size",
        "verification",
        "offsite_status",
        "pruned_at",
    ]
    list_filter = ["status", "trigger", "verification", "offsite_status", "target"]
    search_fields = ["target__name", "file", "sha256"]
    date_hierarchy = "queued_at"
    list_select_related = ["target"]
    raw_id_fields = ["target", "requested_by", "repository"]
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    def has_add_permission(self, request):
        return False  # runs are made by the scheduler or "run now", never typed in

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what ran; retention prunes the files, never the record


@admin.register(RestoreRun)
class RestoreRunAdmin(HistoryAdmin):
    list_display = [
        "id",
        "target",
        "backup",
        "status",
        "requested_by",
        "requested_at",
        "finished_at",
    ]
    list_filter = ["status", "target"]
    date_hierarchy = "requested_at"
    list_select_related = ["target", "requested_by"]
    readonly_fields = [f.name for f in RestoreRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
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

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Repository)
class RepositoryAdmin(HistoryAdmin):
    form = RepositoryForm
    list_display = [
        "name",
        "shown_url",
        "snapshot_count",
        "size",
        "last_check_at",
        "last_check_passed",
        "error",
    ]
    list_filter = ["last_check_passed"]
    search_fields = ["name", "url"]
    readonly_fields = [
        "initialised_at",
        "status_at",
        "snapshot_count",
        "size",
        "error",
        "last_check_at",
        "last_check_passed",
        "last_check_detail",
        "created_at",
    ]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        # a viewer sees no password input at all
        return [name for name in fields if name != "password"]

    @admin.display(description=_("repository"))
    def shown_url(self, obj):
        return obj.shown_url
