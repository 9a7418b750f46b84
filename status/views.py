"""Status pages. The views under /status/ are public (core.middleware exempts that prefix and
nothing else); they read only status.services.snapshot and the subscription services. The team's
views (/status-pages/…) need a login like every other page and check the role on each write."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import feedgenerator, timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from core.errors import DomainError
from core.security import client_ip
from incidents.models import Incident
from status import services
from status.forms import (
    NoticeForm,
    OverrideForm,
    PublicIncidentForm,
    PublicUpdateForm,
    SubscribeForm,
)
from status.models import LANGUAGE_CODES, Component, PublicIncident, StatusPage

# The subscription form, per client address: a few tries, then 429 until the window passes.
SUBSCRIBE_LIMIT = 5
SUBSCRIBE_WINDOW = 600  # seconds


def _page(slug) -> StatusPage:
    return get_object_or_404(StatusPage, slug=slug)


def _language(request, page: StatusPage) -> str:
    language = request.GET.get("lang", "")
    return language if language in LANGUAGE_CODES else page.language


def _cached(page: StatusPage, language: str, what: str, build) -> bytes:
    """A page's rendering, shared by every visitor for CACHE_SECONDS: a crowd refreshing the page
    during an outage costs one build per language and format."""
    key = services.cache_key(page.slug, language, what)
    body = cache.get(key)
    if body is None:
        with translation.override(language):
            body = build(services.snapshot(page, language))
        cache.set(key, body, services.CACHE_SECONDS)
    return body


def _public(response, language: str):
    response["Content-Language"] = language
    patch_cache_control(response, public=True, max_age=services.CACHE_SECONDS)
    return response


@require_safe
def status_page(request, slug):
    page = _page(slug)
    language = _language(request, page)
    body = _cached(
        page,
        language,
        "html",
        lambda data: render_to_string(
            "status/page.html", {"status": data, "language": language, "slug": page.slug}
        ).encode(),
    )
    return _public(HttpResponse(body), language)


def _json(data: dict) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).encode()


@require_safe
def status_json(request, slug):
    page = _page(slug)
    language = _language(request, page)
    body = _cached(page, language, "json", _json)
    return _public(HttpResponse(body, content_type="application/json"), language)


def _feed(data: dict) -> bytes:
    link = (
        settings.BASE_URL
        + reverse("status:page", args=[data["slug"]])
        + f"?lang={data['language']}"
    )
    feed = feedgenerator.Atom1Feed(
        title=data["title"],
        link=link,
        description=data["title"],
        language=data["language"],
        feed_url=link,
    )
    for incident in data["incidents"]:
        for update in incident["updates"]:
            feed.add_item(
                title=f"{incident['title']} · {update['status_label']}",
                link=link,
                description=update["text"],
                pubdate=update["posted_at"],
                updateddate=update["posted_at"],
                unique_id=f"{link}#update-{update['id']}",
            )
    return feed.writeString("utf-8").encode()


@require_safe
def status_feed(request, slug):
    page = _page(slug)
    language = _language(request, page)
    body = _cached(page, language, "feed", _feed)
    return _public(HttpResponse(body, content_type="application/atom+xml; charset=utf-8"), language)


def _throttled(request) -> bool:
    # A fixed window named by its number, so the count resets with the clock, whatever the cache.
    window = int(timezone.now().timestamp() // SUBSCRIBE_WINDOW)
    key = f"status:subscribe:{client_ip(request)}:{window}"
    cache.add(key, 0, SUBSCRIBE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, SUBSCRIBE_WINDOW)
        count = 1
    return count > SUBSCRIBE_LIMIT


def subscribe(request, slug):
    page = _page(slug)
    language = _language(request, page)
    with translation.override(language):
        form = SubscribeForm(request.POST or None, initial={"language": language})
        status = 200
        if request.method == "POST":
            if _throttled(request):
                return render(
                    request,
                    "status/subscribe.html",
                    {"page": page, "language": language, "form": form, "throttled": True},
                    status=429,
                )
            if form.is_valid():
                services.subscribe(
                    page=page,
                    email=form.cleaned_data["email"],
                    language=form.cleaned_data["language"],
                )
                return render(
                    request,
                    "status/message.html",
                    {
                        "page": page,
                        "language": language,
                        "message": _(
                            "If the address can receive mail, a confirmation link is on its way. "
                            "Nothing is sent until it is opened."
                        ),
                    },
                )
            status = 400
        return render(
            request,
            "status/subscribe.html",
            {"page": page, "language": language, "form": form},
            status=status,
        )


@require_safe
def confirm(request, slug, token):
    page = _page(slug)
    language = _language(request, page)
    subscriber = services.confirm(page=page, token=token)
    with translation.override(subscriber.language if subscriber else language):
        if subscriber is None:
            return render(
                request,
                "status/message.html",
                {
                    "page": page,
                    "language": language,
                    "message": _(
                        "This link is not valid (any more). Subscribe again if you want the "
                        "notices."
                    ),
                },
                status=404,
            )
        return render(
            request,
            "status/message.html",
            {
                "page": page,
                "language": subscriber.language,
                "message": _("Subscription confirmed: you will receive the notices of this page."),
            },
        )


# One-click unsubscribe (RFC 8058) is a POST without a form of ours: the token in the link is the
# credential, so there is no session to forge a request for.
@csrf_exempt
def unsubscribe(request, slug, token):
    page = _page(slug)
    language = _language(request, page)
    with translation.override(language):
        if request.method == "POST":
            if services.unsubscribe(page=page, token=token):
                return render(
                    request,
                    "status/message.html",
                    {
                        "page": page,
                        "language": language,
                        "message": _(
                            "You are unsubscribed. No more notices will be sent to this address."
                        ),
                    },
                )
            return render(
                request,
                "status/message.html",
                {
                    "page": page,
                    "language": language,
                    "message": _("This link is not valid (any more)."),
                },
                status=404,
            )
        return render(request, "status/unsubscribe.html", {"page": page, "language": language})


# The team's pages -------------------------------------------------------------


@require_safe
@permission_required("status.view_statuspage", raise_exception=True)
def page_list(request):
    pages = StatusPage.objects.prefetch_related("components__service")
    can_override = request.user.has_perm("status.change_component")
    return render(
        request,
        "status/pages.html",
        {"pages": pages, "can_override": can_override, "override_form": OverrideForm()},
    )


@require_POST
@permission_required("status.change_component", raise_exception=True)
def component_override(request, pk):
    component = get_object_or_404(Component.objects.select_related("page"), pk=pk)
    form = OverrideForm(request.POST)
    if form.is_valid():
        component.override = form.cleaned_data["override"]
        component.save(update_fields=["override"])
        services.forget([component.page_id])
        messages.success(request, _("Component state saved."))
    else:
        messages.error(request, _("Choose a state from the list."))
    return redirect("status:pages")


def incident_panel(*, incident, user) -> dict:
    """Context for the incident page (incidents.views.incident_panels)."""
    public = PublicIncident.objects.filter(incident=incident).prefetch_related("updates").first()
    return {
        "status_public": public,
        "status_pages": list(
            StatusPage.objects.filter(components__service_id=incident.service_id).distinct()
        ),
        "status_can_publish": user.has_perm("status.add_publicupdate"),
        "status_can_notice": user.has_perm("status.add_notice"),
        "status_public_form": PublicIncidentForm(
            initial={"title_ko": public.title_ko, "title_en": public.title_en} if public else None
        ),
        "status_update_form": PublicUpdateForm(),
    }


def _incident(pk) -> Incident:
    return get_object_or_404(Incident.objects.select_related("service"), pk=pk)


@require_POST
@permission_required("status.add_publicincident", raise_exception=True)
def incident_mark_public(request, pk):
    incident = _incident(pk)
    form = PublicIncidentForm(request.POST)
    if form.is_valid():
        services.mark_public(incident=incident, by=request.user, **form.cleaned_data)
        messages.success(request, _("The incident is public on its status pages."))
    else:
        messages.error(request, " ".join(form.non_field_errors()) or _("Check the public title."))
    return redirect(incident)


@require_POST
@permission_required("status.add_publicupdate", raise_exception=True)
def incident_post_update(request, pk):
    incident = _incident(pk)
    form = PublicUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.post_update(incident=incident, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Public update posted."))
    else:
        messages.error(request, " ".join(form.non_field_errors()) or _("Check the update."))
    return redirect(incident)


@permission_required("status.add_notice", raise_exception=True)
def incident_notice(request, pk):
    """Choose a notice, preview it in both languages, then send it (a second button)."""
    incident = _incident(pk)
    form = NoticeForm(request.POST or None, incident=incident)
    preview, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                if "send" in request.POST:
                    notice = services.send_notice(
                        page=data["page"],
                        incident=incident,
                        kind=data["kind"],
                        by=request.user,
                        channels=data["channels"],
                        data_loss=data["data_loss"],
                        update_text=data["update_text"],
                    )
                    messages.success(
                        request,
                        _("Notice queued for its recipients (%(key)s).")
                        % {"key": notice.outbox_key},
                    )
                    return redirect(incident)
                preview = services.render_notice(
                    page=data["page"],
                    incident=incident,
                    kind=data["kind"],
                    data_loss=data["data_loss"],
                    update_text=data["update_text"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        if form.errors:
            status = 400
    return render(
        request,
        "status/notice.html",
        {
            "incident": incident,
            "form": form,
            "status": status,
            "preview": [(code, *preview[code]) for code in LANGUAGE_CODES] if preview else None,
            "now": timezone.now(),
        },
        status=status,
    )
