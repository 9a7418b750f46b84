from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProbesConfig(AppConfig):
    name = "probes"
    verbose_name = _("Probes")

    # Operators may press "run now"; managers edit probes (core.roles).
    operator_permissions = ["probes.run_probe"]

    nav = [("probes:grid", _("Probes"))]
    nav_more = [("probes:hosts", _("Hosts"), "probes.view_host")]
    dashboard_panels = [("probes/_dashboard_panel.html", "probes.dashboard.panel")]
    # The shift handover form's probes field starts with what is not ok
    # (checklists.services.handover_initial).
    handover_fields = {"probes": "probes.services.handover_text"}

    schedules = [
        # The tick loops for up to 55 s, so sub-minute intervals keep their pace.
        {
            "name": "probes.tick",
            "func": "probes.tasks.tick",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": None,
        },
        {
            "name": "probes.prune_results",
            "func": "probes.tasks.prune_results",
            "schedule_type": "D",
            "cluster": None,
        },
    ]

    def collect_metrics(self):
        from probes.metrics import collect

        yield from collect()
