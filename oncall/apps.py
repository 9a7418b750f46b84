from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = _("On call")

    # Operators may set and withdraw overrides that concern themselves (Override.may_change).
    operator_permissions = [
        "oncall.add_override",
        "oncall.change_override",
        "oncall.delete_override",
    ]

    nav = [("oncall:list", _("On call"))]
    # The current and next person on call per schedule, on "Who to call now" and "My shift"
    # (core.panels).
    panels = {
        page: [("oncall/_now_panel.html", "oncall.views.now_panel", "oncall.view_schedule")]
        for page in ("who_to_call", "my_shift")
    }

    def ready(self):
        # Escalation steps reach schedules through this hook: incidents never imports oncall.
        from incidents.targets import ScheduleTargets, register_schedule_targets
        from oncall import services

        register_schedule_targets(
            ScheduleTargets(
                steps=services.schedules_of_steps,
                on_call=services.on_call,
                names=services.schedule_names,
            )
        )
