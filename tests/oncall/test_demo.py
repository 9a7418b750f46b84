from datetime import timedelta

from django.utils import timezone

from incidents import demo as incidents_demo
from oncall import demo
from oncall.models import Schedule


def test_the_demo_schedule_rotates_tier_1_and_backs_the_sev1_second_step(roles):
    incidents_demo.seed()
    assert demo.seed() == "1 schedule of 2 people"
    assert demo.seed() == "0 schedules"
    schedule = Schedule.objects.get()
    [step] = schedule.escalation_steps.all()
    assert (step.policy.severity, step.position) == ("sev1", 1)
    now = timezone.now()
    this_week, next_week = schedule.on_call_at(now), schedule.on_call_at(now + timedelta(weeks=1))
    assert {this_week, next_week} == set(schedule.layers.get().member_ids())
