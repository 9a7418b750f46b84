"""`manage.py rebuild_rollups`: every incident rollup again from the incidents (incidents.rollups).

The services keep the rollups as incidents change; run this after writing incidents by other means
(a bulk import) or after changing PORTAL_TIME_ZONE, which moves the days' boundaries.
"""

import time

from django.core.management.base import BaseCommand

from incidents.rollups import rebuild


class Command(BaseCommand):
    help = "Recompute the per-day incident rollups (reports, dashboard) from the incidents."

    def handle(self, *args, **options):
        started = time.monotonic()
        count = rebuild()
        self.stdout.write(f"{count} rollups rebuilt in {time.monotonic() - started:.1f} s")
