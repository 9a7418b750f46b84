"""Demo data: a backup of the portal's own database and of a sample SQLite file, each run once."""

import sqlite3

from django.conf import settings
from django.utils import timezone

from backups import services
from backups.models import BackupTarget, Kind, Trigger
from incidents.models import Service

SAMPLE_ROWS = 500


def sample_database() -> str:
    path = settings.DATA_DIR / "demo" / "inventory.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)"
        )
        if con.execute("SELECT count(*) FROM item").fetchone()[0] == 0:
            con.executemany(
                "INSERT INTO item (name, qty) VALUES (?, ?)",
                [(f"part-{n}", n % 17) for n in range(SAMPLE_ROWS)],
            )
    con.close()
    return str(path)


def seed() -> str:
    now = timezone.now()
    service = (
        Service.objects.filter(name="Internal API").first()
        or Service.objects.order_by("name").first()
    )
    if service is None:
        service = Service.objects.create(name="Ops portal")
    destination = str(settings.DATA_DIR / "backups")
    specs = [
        ("portal-db", Kind.PORTAL_DB, ""),
        ("inventory-sample", Kind.SQLITE, sample_database()),
    ]
    created = ran = 0
    for name, kind, source in specs:
        target, new = BackupTarget.objects.get_or_create(
            name=name,
            defaults={
                "service": service,
                "kind": kind,
                "source": source,
                "destination": destination,
                "schedule": "0 2 * * *",
                "keep_last": 30,
            },
        )
        if new:
            target.next_run_at = target.next_run_after(now)
            target.save(update_fields=["next_run_at"])
            created += 1
        if not target.runs.verified().exists():
            services.run_backup(target=target, trigger=Trigger.MANUAL)
            ran += 1
    return f"{created} targets, {ran} backups run"
