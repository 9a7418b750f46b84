import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import HistoryAdmin, SecretFieldsAdmin
from core.errors import DomainError
from incidents import notify, postmortems, rollups, services
from incidents.forms import MaskedTargetForm, RouteForm
from incidents.models import (
    ActionItem,
    Contact,
    EscalationPolicy,
    EscalationStep,
    Incident,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Postmortem,
    RecurringMaintenanceWindow,
    Route,
    Service,
    Tier,
    TimelineEvent,
)


class Echo:
    """A file-like object whose write() hands the line back, for streaming CSV."""

    def write(self, value):
        return value


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula is run by spreadsheets: neutralise it.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


@admin.action(description=_("Export selected as CSV"), permissions=["view"])
def export_csv(modeladmin, request, queryset):
    fields = modeladmin.csv_fields
    writer = csv.writer(Echo())
    rows = (
        queryset.select_related(*modeladmin.list_select_related or ())
        .order_by("pk")
        .iterator(chunk_size=2000)
    )

    def lines():
        yield writer.writerow(fields)
        for obj in rows:
            yield writer.writerow([csv_cell(_csv_value(obj, name)) for name in fields])

    name = f"{modeladmin.model._meta.model_name}s-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_value(obj, name):
    value = obj
    for part in name.split("__"):
        value = getattr(value, part, None)
        if value is None:
            return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class ReadOnlyHistoryAdmin(HistoryAdmin):
    """Change history to read, never to revert: a revert would bypass the services."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ServiceRulesAdmin(ReadOnlyHistoryAdmin):
    """Saves and deletes go through the services, like the API's; a rule's refusal
    (DomainError) rolls the whole form back and comes back as an error message."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=[object_id],
                    current_app=self.admin_site.name,
                )
            )

    def delete_queryset(self, request, queryset):
        refused = []
        for obj in queryset:
            try:
                self.delete_model(request, obj)
            except DomainError as exc:
                refused.append(f"{obj}: {exc.message}")
        if refused:
            self.message_user(
                request,
                _("Not deleted: %(list)s") % {"list": "; ".join(refused[:20])},
                messages.ERROR,
            )


@admin.register(Service)
class ServiceAdmin(ReadOnlyHistoryAdmin):
    list_display = ["name", "owner", "rto", "rpo", "created_at"]
    list_select_related = ["owner"]
    list_filter = [("created_at", admin.DateFieldListFilter)]
    search_fields = ["name", "description"]
    autocomplete_fields = ["owner"]
    date_hierarchy = "created_at"
    actions = [export_csv]
    csv_fields = [
        "id",
        "name",
        "description",
        "owner__name",
        "rto",
        "rpo",
        "tolerable_rto",
        "tolerable_rpo",
        "runbook_url",
        "dashboard_url",
        "created_at",
    ]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["level", "name", "description"]
    search_fields = ["name"]
    ordering = ["level"]


@admin.display(description=_("address or URL"))
def address_or_url(obj):
    return obj.shown_target


class ChannelForm(MaskedTargetForm):
    class Meta:
        model = NotificationChannel
        fields = ["contact", "kind", "target", "enabled", "resolution_notices"]


class ChannelInline(SecretFieldsAdmin, admin.TabularInline):
    model = NotificationChannel
    form = ChannelForm
    secret_fields = {"target": "shown_target"}
    extra = 0

    @admin.display(description=_("address or URL"))
    def shown_target(self, obj):
        return obj.shown_target


@admin.register(Contact)
class ContactAdmin(ReadOnlyHistoryAdmin):
    list_display = [
        "name",
        "role",
        "tier",
        "availability",
        "phone",
        "email",
        "chat_handle",
        "active",
    ]
    list_select_related = ["tier"]
    list_filter = ["tier", "availability", "active"]
    search_fields = ["name", "role", "email", "phone", "chat_handle"]
    raw_id_fields = ["user"]
    inlines = [ChannelInline]
    actions = [export_csv]
    csv_fields = [
        "id",
        "name",
        "role",
        "tier__name",
        "availability",
        "work_start",
        "work_end",
        "phone",
        "email",
        "chat_handle",
        "active",
    ]


@admin.action(description=_("Send a test message"), permissions=["change"])
def send_test_message(modeladmin, request, queryset):
    for channel in queryset.select_related("contact__user__preference").order_by("pk"):
        error = notify.send_test_message(channel, by=request.user)
        if error:
            messages.error(
                request,
                _("Test message to %(channel)s (%(target)s) failed: %(error)s")
                % {"channel": channel, "target": channel.shown_target, "error": error},
            )
        else:
            messages.success(
                request,
                _("Test message sent to %(channel)s (%(target)s).")
                % {"channel": channel, "target": channel.shown_target},
            )


@admin.register(NotificationChannel)
class NotificationChannelAdmin(SecretFieldsAdmin, admin.ModelAdmin):
    form = ChannelForm
    secret_fields = {"target": "shown_target"}
    list_display = ["contact", "kind", address_or_url, "enabled", "resolution_notices"]
    list_select_related = ["contact"]
    list_filter = ["kind", "enabled", "resolution_notices"]
    # never the target: a search would answer guesses of a webhook's path
    search_fields = ["contact__name"]
    autocomplete_fields = ["contact"]
    actions = [send_test_message]

    @admin.display(description=_("address or URL"))
    def shown_target(self, obj):
        return obj.shown_target


class StepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    ordering = ["position"]
    autocomplete_fields = ["tier", "contacts"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ReadOnlyHistoryAdmin):
    list_display = ["name", "service", "severity", "repeat_every", "repeat_limit", "updated_at"]
    list_select_related = ["service"]
    list_filter = ["severity", "service"]
    search_fields = ["name", "service__name"]
    autocomplete_fields = ["service"]
    date_hierarchy = "updated_at"
    inlines = [StepInline]


class MaintenanceWindowForm(forms.ModelForm):
    user = None

    def clean(self):
        cleaned = super().clean()
        window = MaintenanceWindow(
            starts_at=cleaned.get("starts_at"), ends_at=cleaned.get("ends_at")
        )
        window.check_length(by=self.user)
        return cleaned


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["service", "starts_at", "ends_at", "reason", "created_by"]
    list_select_related = ["service", "created_by"]
    list_filter = ["service", ("starts_at", admin.DateFieldListFilter)]
    search_fields = ["service__name", "reason"]
    autocomplete_fields = ["service"]
    raw_id_fields = ["created_by"]
    date_hierarchy = "starts_at"
    form = MaintenanceWindowForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user  # the class is made for this request
        return form

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(RecurringMaintenanceWindow)
class RecurringMaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["service", "cron", "duration", "reason", "active", "ended_at"]
    list_select_related = ["service"]
    list_filter = ["active", "service"]
    search_fields = ["service__name", "reason", "cron"]
    autocomplete_fields = ["service"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["ended_occurrence", "ended_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    fields = ["at", "kind", "actor_user", "actor_contact", "event_text"]
    readonly_fields = fields
    extra = 0
    ordering = ["at", "id"]
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor_user", "actor_contact")

    @admin.display(description=_("what happened"))
    def event_text(self, event) -> str:
        return event.text


def _bulk(modeladmin, request, queryset, action) -> int:
    done, refused = 0, []
    for incident in queryset.select_related("service"):
        try:
            action(incident=incident, by=request.user)
        except DomainError as exc:
            refused.append(f"#{incident.pk}: {exc.message}")
        else:
            done += 1
    if refused:
        modeladmin.message_user(
            request,
            _("Not changed: %(list)s") % {"list": "; ".join(refused[:20])},
            messages.WARNING,
        )
    return done


@admin.action(description=_("Acknowledge selected incidents"), permissions=["change"])
def acknowledge_incidents(modeladmin, request, queryset):
    done = _bulk(modeladmin, request, queryset, services.acknowledge)
    if done:
        modeladmin.message_user(
            request,
            ngettext("%(count)d incident acknowledged.", "%(count)d incidents acknowledged.", done)
            % {"count": done},
        )


@admin.action(description=_("Resolve selected incidents"), permissions=["change"])
def resolve_incidents(modeladmin, request, queryset):
    done = _bulk(modeladmin, request, queryset, services.resolve)
    if done:
        modeladmin.message_user(
            request,
            ngettext("%(count)d incident resolved.", "%(count)d incidents resolved.", done)
            % {"count": done},
        )


@admin.register(Incident)
class IncidentAdmin(ServiceRulesAdmin):
    # The title is what one reads: it gets the room (portal/admin.css), the times stay on the
    # incident's page and in the CSV; three timestamp columns squeezed titles into six lines.
    list_display = ["id", "title", "service", "severity", "status", "source", "created_at"]
    list_display_links = ["id", "title"]
    list_select_related = ["service"]
    list_filter = [
        "status",
        "severity",
        "service",
        "source",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["title", "description", "dedup_key"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["service"]
    raw_id_fields = ["commander", "responders", "acknowledged_by", "resolved_by"]
    # Status and its timestamps change only through the services (actions above
    # or the incident page), so every change leaves a timeline event.
    readonly_fields = [
        "status",
        "created_at",
        "acknowledged_at",
        "acknowledged_by",
        "mitigated_at",
        "resolved_at",
        "resolved_by",
        "closed_at",
        "escalation_snapshot",
        "escalation_started_at",
        "escalation_round",
        "escalation_step",
        "next_escalation_at",
        "source",
        "dedup_key",
    ]
    inlines = [TimelineInline]
    actions = [acknowledge_incidents, resolve_incidents, export_csv]
    csv_fields = [
        "id",
        "title",
        "service__name",
        "severity",
        "status",
        "source",
        "category",
        "scope",
        "dedup_key",
        "impact_started_at",
        "detected_at",
        "created_at",
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
    ]

    class Media:
        css = {"all": ["portal/admin.css"]}

    def has_add_permission(self, request):
        # New incidents go through "Declare an incident", which starts the escalation.
        return False

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in services.EDITABLE_FIELDS
        }
        services.edit_incident(incident=obj, by=request.user, changes=changes)

    def delete_model(self, request, obj):
        key = rollups.key_of(obj)
        with transaction.atomic():
            super().delete_model(request, obj)
            rollups.refresh([key])


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "incident", "kind", "actor_user", "actor_contact", "event_text"]
    list_select_related = ["incident", "actor_user", "actor_contact"]
    list_filter = ["kind", ("at", admin.DateFieldListFilter)]
    search_fields = ["message", "incident__title"]
    date_hierarchy = "at"
    raw_id_fields = ["incident", "actor_user", "actor_contact"]
    actions = [export_csv]
    csv_fields = [
        "id",
        "incident_id",
        "at",
        "kind",
        "actor_user__username",
        "actor_contact__name",
        "message",
        "text",
    ]

    @admin.display(description=_("what happened"))
    def event_text(self, event) -> str:
        return event.text


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The one outbox: pages, notices, reminders, overdue checklists, routed events and reports."""

    list_display = [
        "created_at",
        "purpose",
        "incident",
        "subject",
        "contact",
        "kind",
        address_or_url,
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    exclude = ["target"]
    readonly_fields = [address_or_url, "notice", "recipient", "subject"]
    list_select_related = ["incident", "contact"]
    list_filter = ["status", "purpose", "kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["last_error", "incident__title", "notice"]
    date_hierarchy = "created_at"
    raw_id_fields = ["incident", "contact", "channel"]
    actions = [export_csv]
    csv_fields = [
        "id",
        "purpose",
        "incident_id",
        "notice",
        "recipient",
        "escalation_round",
        "step",
        "repeat",
        "condition",
        "contact__name",
        "kind",
        "shown_target",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]

    @admin.display(description=_("message subject"))
    def subject(self, obj):
        return obj.subject


# Postmortems -----------------------------------------------------------------------


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    fields = [
        "description",
        "kind",
        "owner",
        "priority",
        "due_date",
        "tracker_url",
        "status",
        "done_at",
    ]
    readonly_fields = ["status", "done_at"]
    autocomplete_fields = ["owner"]
    extra = 0


@admin.register(Postmortem)
class PostmortemAdmin(ServiceRulesAdmin):
    list_display = [
        "title",
        "incident",
        "severity",
        "status",
        "author",
        "created_at",
        "published_at",
    ]
    list_select_related = ["incident", "author"]
    list_filter = [
        "status",
        "severity",
        "incident__service",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["title", "summary", "root_cause", "incident__title"]
    date_hierarchy = "created_at"
    raw_id_fields = ["incident", "author", "published_by", "reviewers", "timeline_events"]
    # Status moves only through the services (page, API), so each step is on the timeline.
    readonly_fields = ["status", "submitted_at", "published_at", "published_by", "closed_at"]
    inlines = [ActionItemInline]
    actions = [export_csv]
    csv_fields = [
        "id",
        "incident_id",
        "title",
        "severity",
        "status",
        "scope",
        "occurred_at",
        "detected_at",
        "recovered_at",
        "author__username",
        "created_at",
        "published_at",
        "closed_at",
    ]

    def save_model(self, request, obj, form, change):
        postmortems.save_postmortem(postmortem=obj, by=request.user)

    def save_formset(self, request, form, formset, change):
        items = formset.save(commit=False)
        for item in formset.deleted_objects:
            postmortems.delete_action_item(item=item, by=request.user)
        for item in items:
            postmortems.save_action_item(item=item, by=request.user)

    def delete_model(self, request, obj):
        postmortems.delete_postmortem(postmortem=obj, by=request.user)


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("overdue")), ("no", _("not overdue"))]

    def queryset(self, request, queryset):
        overdue = ActionItem.objects.overdue(timezone.localdate())
        if self.value() == "yes":
            return queryset.filter(pk__in=overdue.values("pk"))
        if self.value() == "no":
            return queryset.exclude(pk__in=overdue.values("pk"))
        return queryset


@admin.register(ActionItem)
class ActionItemAdmin(ServiceRulesAdmin):
    list_display = [
        "description",
        "postmortem",
        "kind",
        "owner",
        "priority",
        "due_date",
        "status",
        "done_at",
    ]
    list_select_related = ["postmortem", "owner"]
    list_filter = [
        "status",
        OverdueFilter,
        "kind",
        "priority",
        "owner",
        "postmortem__severity",
        "postmortem__incident__service",
    ]
    search_fields = ["description", "postmortem__title", "owner__name"]
    date_hierarchy = "due_date"
    raw_id_fields = ["postmortem"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["status", "done_at"]
    actions = [export_csv]
    csv_fields = [
        "id",
        "postmortem_id",
        "description",
        "kind",
        "owner__name",
        "priority",
        "due_date",
        "tracker_url",
        "status",
        "done_at",
        "created_at",
    ]

    def save_model(self, request, obj, form, change):
        postmortems.save_action_item(item=obj, by=request.user)

    def delete_model(self, request, obj):
        postmortems.delete_action_item(item=obj, by=request.user)


@admin.register(Route)
class RouteAdmin(SecretFieldsAdmin, admin.ModelAdmin):
    form = RouteForm
    secret_fields = {"target": "shown_target"}
    list_display = [
        "name",
        "kind",
        address_or_url,
        "min_severity",
        "hours_start",
        "hours_end",
        "enabled",
    ]
    list_filter = ["kind", "min_severity", "enabled"]
    search_fields = ["name"]  # never the target
    filter_horizontal = ["services"]

    @admin.display(description=_("address or URL"))
    def shown_target(self, obj):
        return obj.shown_target
