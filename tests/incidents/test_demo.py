import pytest
from django.core.management import call_command

from incidents import demo
from incidents.models import (
    Availability,
    Contact,
    EscalationPolicy,
    Incident,
    Notification,
    NotificationChannel,
    Service,
    Status,
    Tier,
    TimelineEvent,
)

pytestmark = pytest.mark.django_db


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Service,
            Tier,
            Contact,
            NotificationChannel,
            EscalationPolicy,
            Incident,
            TimelineEvent,
            Notification,
        )
    }


def test_seeding_twice_creates_nothing_new(roles):
    first = demo.seed()
    after_first = counts()
    second = demo.seed()
    assert counts() == after_first
    assert "0 services, 0 contacts, 0 policies, 0 incidents" in second
    assert first != second


def test_the_demo_has_three_tiers_of_fictional_contacts_each_with_an_email_channel(roles):
    demo.seed()
    assert list(Tier.objects.values_list("level", flat=True)) == [1, 2, 3]
    for contact in Contact.objects.all():
        assert contact.email.endswith("@example.com") and contact.phone.startswith("010-0000-")
        assert contact.email in [
            channel.target for channel in contact.channels.filter(kind="email")
        ]
    assert Contact.objects.filter(tier__level=1, availability=Availability.ALWAYS).exists()
    assert Contact.objects.filter(tier__level=1, availability=Availability.BUSINESS_HOURS).exists()
    assert set(Contact.objects.filter(tier__level=3).values_list("availability", flat=True)) == {
        Availability.EMERGENCY_ONLY
    }
    assert Service.objects.filter(rto__isnull=False, rpo__isnull=False).count() >= 3


def test_the_demo_policies_follow_the_runbook_escalation_rules(roles):
    demo.seed()

    def steps(severity):
        policy = EscalationPolicy.objects.get(service=None, severity=severity)
        return [
            (int(s.after.total_seconds()), s.tier.level, s.condition, s.business_hours_only)
            for s in policy.steps.order_by("position")
        ]

    assert steps("sev1") == [
        (0, 1, "not_resolved", False),
        (1800, 2, "not_resolved", False),
        (7200, 3, "not_resolved", False),
    ]
    assert steps("sev2") == [(0, 1, "not_resolved", False), (4 * 3600, 2, "not_resolved", False)]
    assert steps("sev3") == [(0, 1, "not_resolved", True)]
    assert steps("sev4") == []


def test_demo_incidents_have_timelines_and_page_nobody(roles):
    demo.seed()
    assert Incident.objects.filter(status__in=[Status.RESOLVED, Status.CLOSED]).count() >= 3
    open_one = Incident.objects.get(status=Status.ACKNOWLEDGED)
    assert open_one.next_escalation_at is None
    for incident in Incident.objects.all():
        assert incident.events.exists()
        assert incident.events.order_by("at").first().at == incident.created_at
    assert Notification.objects.count() == 0


def test_seed_demo_command_loads_the_incidents_demo(roles, capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert "demo data: incidents: 0 services" in capsys.readouterr().out
    assert Incident.objects.count() == len(demo.PAST_INCIDENTS) + 1
