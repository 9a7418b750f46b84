"""The reports page is built once and read from the cache until what it is made of changes
(incidents.reportcache): each change a report can show, once committed, gives the next view the
figures a fresh build gives."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import postmortems, reportcache, services
from incidents.models import ActionItem, Incident, Postmortem, Service, Status
from tests.incidents.factories import make_incident
from tests.incidents.report_data import NOW, T0, minutes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
PARAMS = {"first": "2026-02", "last": "2026-04"}


def view(client) -> dict:
    response = client.get(reverse("incidents:reports"), PARAMS)
    assert response.status_code == 200
    return {key: response.context[key] for key in ("report", "charts", "trends")}


def fresh(client) -> dict:
    cache.clear()
    return view(client)


def test_a_second_view_reads_no_rollup_and_shows_the_same(client_as, hand_built):
    client = client_as("manager")
    first = view(client)
    with CaptureQueriesContext(connection) as queries:
        second = view(client)
    assert second == first
    assert not [q for q in queries if "rollup" in q["sql"]], "the figures came from the cache"


def _new_incident(user):
    services.open_incident(
        service=Service.objects.get(name="API"), title="new", severity="sev1", by=user
    )


def _resolve_the_open_one(user):
    services.resolve(incident=Incident.objects.get(status=Status.ACKNOWLEDGED), by=user)


def _edit_impact_start(user):
    # An after-the-fact edit, as the admin makes it: the row, then its rollup.
    incident = Incident.objects.filter(status=Status.RESOLVED, service__name="API").first()
    incident.impact_started_at = incident.created_at - timedelta(hours=3)
    incident.save()
    from incidents import rollups

    rollups.refresh_incident(incident.pk)


def _draft_a_postmortem(user):
    incident = Incident.objects.filter(severity="sev1", postmortem__isnull=True).first()
    postmortems.save_postmortem(postmortem=postmortems.draft_for(incident, by=user), by=user)


def _publish_a_postmortem(user):
    # A conditional update (no signal): drafted before the first view, published as the change.
    draft = Postmortem.objects.get(status="draft")
    postmortems.publish_postmortem(postmortem=draft, by=user)


_publish_a_postmortem.prepare = _draft_a_postmortem


def _complete_the_late_item(user):
    postmortems.complete_action_item(item=ActionItem.objects.get(description="late"), by=user)


def _add_an_overdue_item(user):
    ActionItem.objects.create(
        postmortem=Postmortem.objects.get(),
        description="new",
        due_date=NOW.date() - timedelta(days=2),
    )


def _change_the_rto(user):
    service = Service.objects.get(name="API")
    service.rto = timedelta(minutes=25)
    service.save()


def _delete_a_postmortem(user):
    Postmortem.objects.get().delete()


CHANGES = [
    _new_incident,
    _resolve_the_open_one,
    _edit_impact_start,
    _publish_a_postmortem,
    _complete_the_late_item,
    _add_an_overdue_item,
    _change_the_rto,
    _delete_a_postmortem,
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__.strip("_"))
def test_after_each_committed_change_the_page_shows_what_a_fresh_build_shows(
    client_as, hand_built, django_capture_on_commit_callbacks, change
):
    client = client_as("manager")
    if hasattr(change, "prepare"):
        with django_capture_on_commit_callbacks(execute=True):
            change.prepare(client.user)
    before = view(client)
    with django_capture_on_commit_callbacks(execute=True):
        change(client.user)
    after = view(client)
    assert after == fresh(client)
    assert after != before, "the change shows in the report (else this test proves nothing)"


def test_a_change_replaces_the_revision_only_once_a_report_was_read_under_it(
    client_as, hand_built, django_capture_on_commit_callbacks
):
    client = client_as("manager")
    with django_capture_on_commit_callbacks(execute=True):
        make_incident(Service.objects.get(name="API"), created_at=T0 + minutes(5))
    assert cache.get(reportcache.REVISION) is None  # nobody read a report: nothing written
    view(client)
    read = cache.get(reportcache.REVISION)
    assert cache.get(reportcache.USED) == read
    with django_capture_on_commit_callbacks(execute=True):
        make_incident(Service.objects.get(name="API"), created_at=T0 + minutes(6))
    replaced = cache.get(reportcache.REVISION)
    assert replaced not in (None, read)
    with django_capture_on_commit_callbacks(execute=True):
        make_incident(Service.objects.get(name="API"), created_at=T0 + minutes(7))
    assert cache.get(reportcache.REVISION) == replaced  # unread since: left alone


def test_an_evicted_mark_still_replaces_the_revision(
    client_as, hand_built, django_capture_on_commit_callbacks
):
    client = client_as("manager")
    view(client)
    read = cache.get(reportcache.REVISION)
    cache.delete(reportcache.USED)
    with django_capture_on_commit_callbacks(execute=True):
        make_incident(Service.objects.get(name="API"), created_at=T0 + minutes(5))
    assert cache.get(reportcache.REVISION) != read


def test_without_a_cache_the_page_is_built_each_time(client_as, hand_built, monkeypatch):
    client = client_as("manager")
    expected = view(client)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    for method in ("get", "set", "add"):
        monkeypatch.setattr(cache, method, down)
    assert view(client) == expected
    with CaptureQueriesContext(connection) as queries:
        view(client)
    assert [q for q in queries if "rollup" in q["sql"]]
