from django import forms
from django.utils.translation import gettext_lazy as _


class RestoreForm(forms.Form):
    confirm = forms.CharField(label=_("Type the target's name to confirm"), max_length=80,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
