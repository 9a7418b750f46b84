from django.contrib.auth.models import Group
from django_q.models import Schedule

from core.roles import ensure_roles, role_codenames
from portal.schedules import declared_schedules, ensure_schedules


def test_roles_are_groups_with_growing_permissions(db):
    ensure_roles()
    perms = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()}
        for g in Group.objects.prefetch_related("permissions__content_type")
    }
    assert perms["viewer"] < perms["operator"] < perms["manager"]
    assert all(p.split(".")[1].startswith("view_") for p in perms["viewer"])
    assert "incidents.change_incident" in perms["operator"]
    assert "incidents.change_contact" not in perms["operator"]
    assert "incidents.change_contact" in perms["manager"]


def test_every_declared_role_permission_exists(db):
    from django.contrib.auth.models import Permission

    existing = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    for role, codenames in role_codenames().items():
        assert codenames <= existing, (role, codenames - existing)


def test_schedules_are_registered_once_by_name_however_often_migrate_runs(db):
    ensure_schedules()
    ensure_schedules()
    names = [spec["name"] for spec in declared_schedules()]
    assert sorted(Schedule.objects.values_list("name", flat=True)) == sorted(names)


def test_a_duplicated_schedule_row_is_removed_and_a_changed_one_restored(db):
    ensure_schedules()
    original = Schedule.objects.get(name="portal.heartbeat")
    Schedule.objects.create(
        name="portal.heartbeat", func="portal.tasks.heartbeat", schedule_type="I", minutes=1
    )
    Schedule.objects.filter(pk=original.pk).update(minutes=99)
    ensure_schedules()
    rows = Schedule.objects.filter(name="portal.heartbeat")
    assert rows.count() == 1
    assert rows.get().minutes == 1


def test_the_long_cluster_has_its_own_heartbeat_schedule(db):
    ensure_schedules()
    assert Schedule.objects.get(name="portal.heartbeat.long").cluster == "long"
