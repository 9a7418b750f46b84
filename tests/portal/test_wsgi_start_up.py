"""What the web server's entry point does once per worker, before the first request."""

import json
import subprocess
import sys

from django.conf import settings


def test_the_entry_point_loads_every_view_and_freezes_what_start_up_made(tmp_path):
    code = (
        "import gc, json, sys; import portal.wsgi; "
        "print(json.dumps([gc.get_freeze_count(), 'incidents.views' in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={"PORTAL_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frozen, views_loaded = json.loads(result.stdout.splitlines()[-1])
    assert views_loaded, "the views are imported before the first request"
    assert frozen > 50_000, (
        f"only {frozen} objects frozen: start-up is not out of the collector's way"
    )
