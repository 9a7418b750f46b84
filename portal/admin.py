import contextlib

from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

from portal.models import CompanyDay, UserPreference


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "language"]
    list_filter = ["language"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


# DRF's token admin lists every key in clear; managers see tokens on /account/tokens/ instead.
with contextlib.suppress(admin.sites.NotRegistered):
    admin.site.unregister(TokenProxy)


@admin.register(CompanyDay)
class CompanyDayAdmin(admin.ModelAdmin):
    list_display = ["date", "name"]
    search_fields = ["name"]
    date_hierarchy = "date"
