from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.models import NotificationChannel
from status.models import ComponentState, Language, NoticeKind, StatusPage, UpdateStatus
from status.services import data_loss_default


class SubscribeForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    language = forms.ChoiceField(label=_("Language of the notices"), choices=Language.choices)


class PublicIncidentForm(forms.Form):
    title_ko = forms.CharField(label=_("Public title (Korean)"), max_length=200, required=False)
    title_en = forms.CharField(label=_("Public title (English)"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if not (data.get("title_ko", "").strip() or data.get("title_en", "").strip()):
            raise forms.ValidationError(_("Give a public title in Korean or English."))
        return data


class PublicUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=UpdateStatus.choices)
    text_ko = forms.CharField(
        label=_("Text (Korean)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    text_en = forms.CharField(
        label=_("Text (English)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self):
        data = super().clean()
        if not (data.get("text_ko", "").strip() or data.get("text_en", "").strip()):
            raise forms.ValidationError(_("Write the update in Korean or English."))
        return data


class NoticeForm(forms.Form):
    page = forms.ModelChoiceField(label=_("Status page"), queryset=StatusPage.objects.none())
    kind = forms.ChoiceField(label=_("Notice"), choices=NoticeKind.choices)
    data_loss = forms.CharField(
        label=_("Data loss"),
        max_length=300,
        required=False,
        help_text=_("Empty: the service's RPO, in each notice's language."),
    )
    update_text = forms.CharField(
        label=_("Update text"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    channels = forms.ModelMultipleChoiceField(
        label=_("Team channels"),
        required=False,
        queryset=NotificationChannel.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        pages = StatusPage.objects.filter(components__service_id=incident.service_id).distinct()
        self.fields["page"].queryset = pages
        self.fields["data_loss"].widget.attrs["placeholder"] = data_loss_default(incident)
        self.fields["channels"].queryset = NotificationChannel.objects.filter(
            enabled=True, pk__in=pages.values("channels")
        ).select_related("contact")
        self.fields["channels"].label_from_instance = lambda c: (
            f"{c.contact} · {c.get_kind_display()}"
        )

    def clean(self):
        data = super().clean()
        page, channels = data.get("page"), data.get("channels") or []
        if page is not None:
            allowed = set(page.channels.values_list("pk", flat=True))
            if any(c.pk not in allowed for c in channels):
                self.add_error("channels", _("Choose channels of this status page."))
        return data


class OverrideForm(forms.Form):
    override = forms.ChoiceField(
        label=_("State override"),
        required=False,
        choices=[("", _("derived from incidents")), *ComponentState.choices],
    )
