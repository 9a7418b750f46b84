from django import forms
from django.utils.translation import gettext_lazy as _

from backups.models import Repository


class RestoreForm(forms.Form):
    confirm = forms.CharField(
        label=_("Type the target's name to confirm"),
        max_length=80,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    from_repository = forms.BooleanField(
        label=_("Read the backup from its off-site snapshot"), required=False
    )


class RepositoryForm(forms.ModelForm):
    """The password input never shows the stored value; left empty on an edit, the stored one
    stays."""

    password = forms.CharField(
        label=_("password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "restic's repository password. Kept encrypted and never shown again. "
            "Leave empty to keep the stored one."
        ),
    )

    class Meta:
        model = Repository
        fields = ["name", "url", "password", "upload_limit_kib"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored_password = self.instance.password if self.instance.pk else ""
        self.initial.pop("password", None)

    def clean_password(self):
        password = self.cleaned_data["password"] or self.stored_password
        if not password:
            raise forms.ValidationError(_("Give the repository's password."), code="required")
        return password
