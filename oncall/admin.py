from django.contrib import admin
from django.core.exceptions import PermissionDenied

from oncall.models import Layer, LayerMember, Override, PersonalFeed, Schedule


class LayerInline(admin.TabularInline):
    """The schedule's layers at a glance; a layer is added on its own page, where its rotation
    is."""

    model = Layer
    fields = [
        "name",
        "level",
        "rotation",
        "handoff_weekday",
        "handoff_hour",
        "handoff_minute",
        "starts_on",
    ]
    readonly_fields = fields
    show_change_link = True
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name", "description"]
    filter_horizontal = ["escalation_steps"]
    inlines = [LayerInline]


class LayerMemberInline(admin.TabularInline):
    model = LayerMember
    fields = ["position", "contact"]
    raw_id_fields = ["contact"]
    min_num = 1
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        # An empty rotation is refused, as in the API (the admin does not pass validate_min on its
        # own).
        return super().get_formset(request, obj, validate_min=True, **kwargs)


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "schedule",
        "level",
        "rotation",
        "handoff_weekday",
        "handoff_hour",
        "starts_on",
    ]
    list_select_related = ["schedule"]
    list_filter = ["schedule", "rotation"]
    search_fields = ["name", "schedule__name"]
    inlines = [LayerMemberInline]


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = [
        "schedule",
        "contact",
        "covers_for",
        "starts_at",
        "ends_at",
        "reason",
        "created_by",
    ]
    list_select_related = ["schedule", "contact", "covers_for", "created_by"]
    list_filter = ["schedule"]
    search_fields = ["contact__name", "covers_for__name", "reason"]
    raw_id_fields = ["contact", "covers_for", "created_by"]
    date_hierarchy = "starts_at"

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (
            obj is None or obj.may_change(request.user)
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (
            obj is None or obj.may_change(request.user)
        )

    def save_model(self, request, obj, form, change):
        if not obj.may_change(request.user):
            raise PermissionDenied
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PersonalFeed)
class PersonalFeedAdmin(admin.ModelAdmin):
    list_display = ["contact"]
    raw_id_fields = ["contact"]
    search_fields = ["contact__name"]
