from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import SecretFieldsAdmin
from core.secrets import keep_stored, mask_webhook
from status import services
from status.models import (
    Component,
    Notice,
    NoticeTemplate,
    PublicIncident,
    PublicUpdate,
    StatusPage,
    Subscriber,
    SubscriberKind,
)


class ComponentInline(admin.TabularInline):
    model = Component
    extra = 0
    autocomplete_fields = ["service"]


@admin.register(StatusPage)
class StatusPageAdmin(admin.ModelAdmin):
    list_display = ["slug", "title_ko", "title_en", "language"]
    search_fields = ["slug", "title_ko", "title_en"]
    filter_horizontal = ["channels"]
    inlines = [ComponentInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.forget([form.instance.pk])


class PublicUpdateInline(admin.TabularInline):
    model = PublicUpdate
    extra = 0
    fields = ["status", "text_ko", "text_en", "posted_at", "posted_by"]
    readonly_fields = ["posted_by"]


@admin.register(PublicIncident)
class PublicIncidentAdmin(admin.ModelAdmin):
    list_display = ["incident", "title_ko", "title_en", "created_at"]
    list_select_related = ["incident"]
    raw_id_fields = ["incident", "created_by"]
    search_fields = ["title_ko", "title_en"]
    date_hierarchy = "created_at"
    inlines = [PublicUpdateInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.forget()


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(admin.ModelAdmin):
    list_display = ["kind", "language", "subject", "updated_at"]
    list_filter = ["kind", "language"]
    search_fields = ["subject"]
    help_texts = _(
        "Values: {{ title }}, {{ service }}, {{ page }}, {{ started_at }}, {{ ended_at }}, "
        "{{ downtime }}, {{ scope }}, {{ data_loss }}, {{ update }}, {{ status_url }}."
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "body" in form.base_fields:  # not for whoever may only view it
            form.base_fields["body"].help_text = self.help_texts
        return form


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "incident", "page", "kind", "created_by"]
    list_select_related = ["incident", "page", "created_by"]
    list_filter = ["kind", "page"]
    raw_id_fields = ["incident", "created_by"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False  # sent from the incident page, after a preview

    def has_change_permission(self, request, obj=None):
        return False


class SubscriberForm(forms.ModelForm):
    """A webhook URL shown masked; saving it back unchanged keeps the stored URL."""

    class Meta:
        model = Subscriber
        fields = ["page", "kind", "email", "url", "language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.url:
            self.initial["url"] = mask_webhook(self.instance.url)

    def clean_url(self):
        url = self.cleaned_data["url"]
        if self.instance.pk:
            old = Subscriber.objects.get(pk=self.instance.pk)
            url = keep_stored(url, old.url, mask_webhook)
        return url


@admin.register(Subscriber)
class SubscriberAdmin(SecretFieldsAdmin, admin.ModelAdmin):
    form = SubscriberForm
    secret_fields = {"url": "shown_url"}
    list_display = ["__str__", "page", "kind", "language", "created_at", "confirmed_at"]
    list_select_related = ["page"]
    list_filter = ["kind", "page", "language", ("confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["email"]
    date_hierarchy = "created_at"

    @admin.display(description=_("webhook URL"))
    def shown_url(self, obj):
        return mask_webhook(obj.url) if obj.url else "–"

    def save_model(self, request, obj, form, change):
        # Added by a manager: a webhook needs no opt-in, an address still confirms by mail.
        if not change and obj.kind == SubscriberKind.WEBHOOK:
            obj.confirmed_at = timezone.now()
        super().save_model(request, obj, form, change)
