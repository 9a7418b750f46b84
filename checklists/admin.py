from django.contrib import admin
from django.db.models import F

from checklists.models import HandoverNote, Item, Playbook, Run, RunItem, Section, Template, Tick
from core.admin import HistoryAdmin
from incidents.admin import export_csv


class SectionInline(admin.TabularInline):
    model = Section
    extra = 0
    fields = ["position", "title"]


class ItemInline(admin.StackedInline):
    model = Item
    extra = 0
    fields = [
        ("position", "section", "required"),
        "text",
        "command",
        ("expected", "probe"),
        "details",
    ]
    raw_id_fields = ["probe"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Only this template's sections in the section menu.
        if db_field.name == "section":
            template_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Section.objects.filter(template_id=template_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Template)
class TemplateAdmin(HistoryAdmin):
    list_display = [
        "name",
        "kind",
        "service",
        "schedule",
        "due_window",
        "assignee_tier",
        "active",
        "version",
    ]
    list_filter = ["kind", "active", "service", "assignee_tier"]
    search_fields = ["name", "description", "source_key"]
    list_select_related = ["service", "assignee_tier"]
    autocomplete_fields = ["service"]
    raw_id_fields = ["assignee_contact"]
    readonly_fields = ["version", "source_key", "materialized_through", "created_at", "updated_at"]
    inlines = [SectionInline, ItemInline]
    actions = [export_csv]
    csv_fields = [
        "id",
        "name",
        "kind",
        "service__name",
        "schedule",
        "due_window",
        "active",
        "version",
    ]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and (form.has_changed() or any(fs.has_changed() for fs in formsets)):
            # Runs already made keep their snapshot; the version says which one they used.
            Template.objects.filter(pk=form.instance.pk).update(version=F("version") + 1)


class RunItemInline(admin.TabularInline):
    model = RunItem
    extra = 0
    can_delete = False
    fields = [
        "position",
        "section",
        "text",
        "required",
        "state",
        "by",
        "at",
        "note",
        "value",
        "incident",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(HistoryAdmin):
    list_display = [
        "name",
        "template",
        "status",
        "occurrence",
        "due_at",
        "assignee_tier",
        "assignee_contact",
        "completed_at",
        "completed_by",
    ]
    list_filter = [
        "status",
        "template",
        "assignee_tier",
        "assignee_contact",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["name", "template__name"]
    date_hierarchy = "created_at"
    list_select_related = ["template", "assignee_tier", "assignee_contact", "completed_by"]
    raw_id_fields = ["assignee_contact", "started_by", "completed_by"]
    # Status and incident move only through the run's own flow (tick, complete, abandon,
    # start from an incident), which checks every item is handled and writes the timeline.
    readonly_fields = [
        "status",
        "incident",
        "template",
        "template_version",
        "occurrence",
        "created_at",
        "started_at",
        "started_by",
        "completed_at",
        "completed_by",
        "reminded_at",
    ]
    inlines = [RunItemInline]
    actions = [export_csv]
    csv_fields = [
        "id",
        "name",
        "template__name",
        "template_version",
        "status",
        "occurrence",
        "due_at",
        "assignee_tier__name",
        "assignee_contact__name",
        "created_at",
        "started_at",
        "started_by__username",
        "completed_at",
        "completed_by__username",
        "incident_id",
    ]


@admin.register(Tick)
class TickAdmin(admin.ModelAdmin):
    list_display = ["run_item", "state", "previous_state", "undo", "by", "at"]
    list_filter = ["state", "undo"]
    search_fields = ["run_item__text", "run_item__run__name", "note"]
    date_hierarchy = "at"
    list_select_related = ["run_item", "by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the audit trail of a run: undo is a tick of its own


@admin.register(HandoverNote)
class HandoverNoteAdmin(admin.ModelAdmin):
    list_display = ["run", "author", "created_at", "acknowledged_at", "acknowledged_by"]
    list_filter = [("acknowledged_at", admin.EmptyFieldListFilter)]
    search_fields = ["run__name", "risks", "planned_changes", "text"]
    date_hierarchy = "created_at"
    list_select_related = ["run", "author", "acknowledged_by"]
    # Written when a shift run completes and acknowledged by the next shift, both on
    # the run's page (checklists.services): here it is to read.
    readonly_fields = [f.name for f in HandoverNote._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Playbook)
class PlaybookAdmin(HistoryAdmin):
    list_display = ["title", "service", "category", "template", "updated_at"]
    list_filter = ["service"]
    search_fields = ["title", "category", "body"]
    list_select_related = ["service", "template"]
    autocomplete_fields = ["service"]
    readonly_fields = ["source_key", "updated_at"]
