from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = _("Backups")

    # Operators may start a backup or a verification; restoring is for managers only.
    operator_permissions = ["backups.add_backuprun"]
    manager_permissions = ["backups.restore_backuprun"]

    nav = [("backups:targets", _("Backups"))]
    dashboard_panels = [("backups/_dashboard_panel.html", "backups.dashboard.panel")]

    schedules = [
        # Quick jobs on the main cluster, so a long backup never delays noticing a dead one.
        {
            "name": "backups.dispatch",
            "func": "backups.tasks.dispatch",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": None,
        },
        {
            "name": "backups.sweep_stale",
            "func": "backups.tasks.sweep_stale",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": None,
        },
        {
            "name": "backups.check_freshness",
            "func": "backups.tasks.check_freshness",
            "schedule_type": "H",
            "cluster": None,
        },
        # The runbooks' monthly restore test: 1st of the month, 04:00, after the nightly backups.
        {
            "name": "backups.rehearse",
            "func": "backups.tasks.rehearse",
            "schedule_type": "C",
            "cron": "0 4 1 * *",
            "cluster": "long",
        },
        # restic check --read-data-subset of every off-site repository, monthly after the
        # rehearsals.
        {
            "name": "backups.check_repositories",
            "func": "backups.tasks.check_repositories",
            "schedule_type": "C",
            "cron": "0 5 2 * *",
            "cluster": "long",
        },
        # The recoverability scorecard to the managers, after the month's rehearsals and checks; the
        # month is the outbox key, so a second run (or cluster) mails nothing twice.
        {
            "name": "backups.mail_scorecard",
            "func": "backups.tasks.mail_scorecard",
            "schedule_type": "C",
            "cron": "0 8 2 * *",
            "cluster": None,
        },
    ]

    def collect_metrics(self):
        from backups.dashboard import verified_ages

        yield from verified_ages()
