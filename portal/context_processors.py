from django.conf import settings

from portal import __version__


def portal(request):
    return {"portal_version": __version__, "portal_time_zone": settings.TIME_ZONE}
