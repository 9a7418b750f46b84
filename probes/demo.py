"""Demo probes of the portal itself: its health endpoint, its data disk, memory, CPU,
and one heartbeat for a nightly backup job. Idempotent (looked up by name).

A demo must never page anybody on a healthy machine, even a busy one (a laptop building
something, two cores shared with a CI run): the machine's own figures open SEV4 incidents
(no escalation step in the demo's policies) and only after five sustained failures, and the health
endpoint is given the latency a loaded development server needs."""

from django.conf import settings
from django.utils import timezone

from incidents.models import Service, Severity
from probes.models import Kind, Probe

# The machine's own figures: recorded and shown, an incident only when sustained, and never paged.
MACHINE = {"severity": Severity.SEV4, "failures_before_alert": 5}


def seed() -> str:
    service, _ = Service.objects.get_or_create(
        name="Ops Portal",
        defaults={"description": "This portal: web server, background workers, database."},
    )
    now = timezone.now()
    specs = [
        (
            "Health endpoint",
            Kind.HTTP,
            {
                "url": f"{settings.BASE_URL}/api/health",
                "method": "GET",
                "headers": {},
                "expected_status": [200],
                "expect": ["status in [healthy, ok]"],
                "expect_warning": [],
                "health": "auto",
                "verify_tls": True,
                "follow_redirects": True,
            },
            {"warning": 1000.0, "critical": 5000.0},
        ),
        (
            "Data disk",
            Kind.DISK,
            {"path": str(settings.DATA_DIR), "measure": "used_percent"},
            {"interval": 300, **MACHINE},
        ),
        ("Memory", Kind.MEMORY, {}, {**MACHINE, "warning": 85.0, "critical": 95.0}),
        ("CPU", Kind.CPU, {}, {**MACHINE, "warning": 85.0, "critical": 95.0}),
        (
            "Nightly backup job",
            Kind.HEARTBEAT,
            {"grace_seconds": 1800},
            {"interval": 86400, "failures_before_alert": 1, "severity": Severity.SEV3},
        ),
    ]
    created = 0
    for name, kind, config, extra in specs:
        probe = Probe.objects.filter(service=service, name=name).first()
        if probe is None:
            probe = Probe(service=service, name=name, kind=kind, config=config, **extra)
            probe.reschedule(now)
            probe.save()
            created += 1
    heartbeat = Probe.objects.get(service=service, name="Nightly backup job")
    from probes.serializers import ping_url

    return f"{created} probes; heartbeat: curl -fsS {ping_url(heartbeat)}"
