from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from checklists import importer
from checklists.models import Kind, Playbook, Template
from tests.incidents.factories import make_service

FIXTURES = Path(__file__).parent / "fixtures"
KO = (FIXTURES / "ops-ko.md").read_bytes()
EN = (FIXTURES / "ops-en.md").read_bytes()

# name, kind, cron, [(section, [(item, required, has command)])]
KO_TEMPLATES = [
    (
        "아침 점검 (매일 오전 09:00)",
        Kind.ROUTINE,
        "0 9 * * *",
        [
            (
                "아침 점검 (매일 오전 09:00)",
                [
                    ("게이트웨이 상태 엔드포인트 확인", True, True),
                    ("정산 대기열 길이 확인", True, False),
                    ("야간 배치 결과 확인", True, False),
                    ("인증서 만료일 확인", False, False),
                ],
            )
        ],
    ),
    (
        "저녁 점검 (매일 저녁 (오후 6시))",
        Kind.ROUTINE,
        "0 18 * * *",
        [
            (
                "저녁 점검 (매일 저녁 (오후 6시))",
                [("오늘의 거절률 검토", True, False), ("로그 디스크 사용량 확인", True, False)],
            )
        ],
    ),
    (
        "매주 월요일 오전 10:00 회의 전 점검",
        Kind.ROUTINE,
        "0 10 * * 1",
        [
            (
                "매주 월요일 오전 10:00 회의 전 점검",
                [("지난주 장애 목록 정리", True, False), ("용량 추이 확인", True, False)],
            )
        ],
    ),
    (
        "주기 점검 · 매주 금요일",
        Kind.ROUTINE,
        "0 9 * * 5",
        [
            (
                "매주 금요일",
                [("주간 백업 복원 확인", True, False), ("방화벽 규칙 변경 검토", True, False)],
            )
        ],
    ),
    (
        "주기 점검 · 매월 1일 점검",
        Kind.ROUTINE,
        "0 9 1 * *",
        [("매월 1일 점검", [("접근 권한 재검토", True, False), ("연락처 갱신", True, False)])],
    ),
    (
        "주기 점검 · 마지막 금요일 회고",
        Kind.ROUTINE,
        "0 9 * * L5",
        [("마지막 금요일 회고", [("월간 지표 공유", True, False)])],
    ),
    (
        "주기 점검 · 분기 첫 주 점검",
        Kind.ROUTINE,
        "0 9 * 1,4,7,10 1#1",
        [("분기 첫 주 점검", [("재해 복구 훈련 계획", True, False)])],
    ),
    (
        "주기 점검 · 연 1회 (12월) 감사",
        Kind.ROUTINE,
        "0 9 1 12 *",
        [("연 1회 (12월) 감사", [("외부 감사 자료 준비", True, False)])],
    ),
    (
        "장애 복구 목록",
        Kind.RECOVERY,
        "",
        [
            ("즉시 할 일", [("발생 시각 기록", True, False), ("사용자 공지", True, False)]),
            ("복구 중", [("원인 확인", True, True)]),
            ("복구 후", [("사후 보고서 작성", True, False)]),
        ],
    ),
]
KO_PLAYBOOKS = [
    ("문제 1: 게이트웨이 응답 없음", "게이트웨이 응답 없음"),
    ("유형 2: 정산 DB 연결 불가", "정산 DB 연결 불가"),
]

EN_TEMPLATES = [
    (
        "Shift checks · Daily 09:00",
        Kind.ROUTINE,
        "0 9 * * *",
        [
            (
                "Daily 09:00",
                [("Cluster health is green", True, True), ("No unassigned shards", True, False)],
            )
        ],
    ),
    (
        "Shift checks · Weekly (Monday)",
        Kind.ROUTINE,
        "0 9 * * 1",
        [
            (
                "Weekly (Monday)",
                [
                    ("Review slow query log", True, False),
                    ("Snapshot repository reachable", False, False),
                ],
            )
        ],
    ),
    (
        "Shift checks · Monthly",
        Kind.ROUTINE,
        "0 9 1 * *",
        [("Monthly", [("Restore a snapshot into the scratch cluster", True, False)])],
    ),
    (
        "Deployment checklist",
        Kind.DEPLOYMENT,
        "",
        [
            (
                "Deployment checklist",
                [("Staging verified", True, False), ("Rollback plan written", True, False)],
            )
        ],
    ),
]
EN_PLAYBOOKS = [("Problem 1: Cluster turns red", "Cluster turns red")]


def shape(template: Template):
    sections = []
    for section in template.sections.order_by("position"):
        sections.append(
            (
                section.title,
                [(i.text, i.required, bool(i.command)) for i in section.items.order_by("position")],
            )
        )
    return template.name, template.kind, template.schedule, sections


@pytest.mark.parametrize(
    ("data", "name", "templates", "playbooks"),
    [
        (KO, "ops-ko.md", KO_TEMPLATES, KO_PLAYBOOKS),
        (EN, "ops-en.md", EN_TEMPLATES, EN_PLAYBOOKS),
    ],
)
@pytest.mark.django_db
def test_a_runbook_becomes_the_expected_templates_and_playbooks(data, name, templates, playbooks):
    service = make_service("Payments")
    plan = importer.read_runbook(data, filename=name)
    result = importer.import_plan(plan=plan, service=service)
    assert len(result.created) == len(templates) + len(playbooks)
    assert sorted(shape(t) for t in Template.objects.all()) == sorted(templates)
    assert sorted(Playbook.objects.values_list("title", "category")) == sorted(playbooks)
    assert set(Template.objects.values_list("service", flat=True)) == {service.pk}


@pytest.mark.django_db
def test_commands_and_details_come_from_under_their_item():
    importer.import_plan(plan=importer.read_runbook(KO, filename="ops-ko.md"))
    health = Template.objects.get(name__startswith="아침").items.get(
        text="게이트웨이 상태 엔드포인트 확인"
    )
    assert health.command.startswith("curl -fsS http://127.0.0.1:9000/status")
    queue = Template.objects.get(name__startswith="아침").items.get(text="정산 대기열 길이 확인")
    assert "대기 건수 100건 미만" in queue.details
    cause = Template.objects.get(name="장애 복구 목록").items.get(text="원인 확인")
    assert cause.command == "# 이 줄은 제목이 아니라 주석입니다\nsystemctl status pay-gw"


def test_a_hash_comment_inside_a_fenced_block_is_never_a_heading():
    plan = importer.read_runbook(KO, filename="ops-ko.md")
    titles = {e.title for e in plan.entries}
    assert not any("주석" in t or "프로세스 확인" in t or "최근 백업" in t for t in titles)


@pytest.mark.django_db
def test_the_playbook_keeps_the_markdown_of_its_section():
    importer.import_plan(plan=importer.read_runbook(KO, filename="ops-ko.md"))
    body = Playbook.objects.get(category="게이트웨이 응답 없음").body
    assert body.startswith("**증상**") and "systemctl restart pay-gw" in body


@pytest.mark.django_db
def test_importing_the_same_file_again_updates_instead_of_duplicating():
    importer.import_plan(plan=importer.read_runbook(KO, filename="ops-ko.md"))
    again = importer.import_plan(plan=importer.read_runbook(KO, filename="ops-ko.md"))
    assert again.created == [] and again.updated == []
    assert Template.objects.count() == len(KO_TEMPLATES)
    changed = KO.replace("- [ ] 용량 추이 확인".encode(), "- [ ] 용량 추이와 비용 확인".encode())
    third = importer.import_plan(plan=importer.read_runbook(changed, filename="ops-ko.md"))
    assert third.updated == ["매주 월요일 오전 10:00 회의 전 점검"]
    template = Template.objects.get(name="매주 월요일 오전 10:00 회의 전 점검")
    assert template.version == 2 and template.items.filter(text="용량 추이와 비용 확인").exists()
    assert Template.objects.count() == len(KO_TEMPLATES)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("# 점검\n- [ ] 항목\n".encode("euc-kr"), "UTF-8"),
        (b"# x\n" + b"a" * importer.max_bytes(), "1 MiB"),
        ("## 매일 오전 13시 점검\n- [ ] 항목\n".encode(), "오전 13시"),
        (b"## Weekly (Funday)\n- [ ] item\n", "Funday"),
        (b"# Notes\nJust prose, nothing to do.\n", "no checklist"),
    ],
)
@pytest.mark.django_db
def test_bad_files_give_a_clear_report_and_create_nothing(data, message):
    with pytest.raises(importer.RunbookError) as caught:
        importer.read_runbook(data, filename="bad.md")
    assert message.lower() in " ".join(caught.value.problems).lower()
    assert Template.objects.count() == 0 and Playbook.objects.count() == 0


@pytest.mark.django_db
def test_the_command_dry_run_lists_each_section_with_its_cron_and_writes_nothing(tmp_path):
    path = tmp_path / "ops-ko.md"
    path.write_bytes(KO)
    out = StringIO()
    call_command("import_runbook", str(path), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "0 18 * * *" in text and "0 9 * 1,4,7,10 1#1" in text and "참고 자료" in text
    assert Template.objects.count() == 0
    call_command("import_runbook", str(path), stdout=StringIO())
    assert Template.objects.count() == len(KO_TEMPLATES)


@pytest.mark.django_db
def test_the_command_reports_a_bad_file_and_an_unknown_service(tmp_path):
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        call_command("import_runbook", str(path))
    path.write_bytes(EN)
    with pytest.raises(CommandError, match="No service"):
        call_command("import_runbook", str(path), "--service", "Nope")


def test_the_upload_form_shows_the_plan_then_imports_with_the_users_choices(client_as):
    client = client_as("manager")
    response = client.post(
        reverse("checklists:import"), {"file": SimpleUploadedFile("ops-en.md", EN)}
    )
    page = response.content.decode()
    assert response.status_code == 200 and "0 9 * * 1" in page and "Glossary" in page
    assert Template.objects.count() == 0
    plan = importer.read_runbook(EN, filename="ops-en.md")
    data = {}
    for n, entry in enumerate(plan.entries):
        data[f"action_{n}"] = entry.action
        if importer.TEMPLATE in entry.choices:
            data[f"cron_{n}"] = entry.cron
    deployment = next(n for n, e in enumerate(plan.entries) if e.title == "Deployment checklist")
    weekly = next(n for n, e in enumerate(plan.entries) if e.title.endswith("Weekly (Monday)"))
    data[f"action_{deployment}"] = "skip"
    data[f"cron_{weekly}"] = "30 8 * * 2"
    response = client.post(reverse("checklists:import"), data)
    assert response.status_code == 302
    assert not Template.objects.filter(name="Deployment checklist").exists()
    assert Template.objects.get(name="Shift checks · Weekly (Monday)").schedule == "30 8 * * 2"


def test_the_upload_form_reports_a_bad_file(client_as):
    response = client_as("manager").post(
        reverse("checklists:import"), {"file": SimpleUploadedFile("x.md", b"\x00\x01")}
    )
    assert response.status_code == 400 and "binary" in response.content.decode()


def test_only_managers_may_import(client_as, api_as):
    assert client_as("operator").get(reverse("checklists:import")).status_code == 403
    response = api_as("operator").post(
        "/api/v1/runbook-imports", {"file": SimpleUploadedFile("a.md", EN)}, format="multipart"
    )
    assert response.status_code == 403


def test_the_api_import_dry_runs_by_default_and_imports_on_request(api_as):
    api = api_as("manager")
    response = api.post(
        "/api/v1/runbook-imports", {"file": SimpleUploadedFile("ops-en.md", EN)}, format="multipart"
    )
    assert response.status_code == 200 and response.json()["dry_run"] is True
    assert Template.objects.count() == 0
    crons = {
        e["title"]: e["cron"]
        for e in response.json()["plan"]["entries"]
        if e["action"] == "template"
    }
    assert crons["Shift checks · Daily 09:00"] == "0 9 * * *"
    response = api.post(
        "/api/v1/runbook-imports",
        {"file": SimpleUploadedFile("ops-en.md", EN), "dry_run": "false"},
        format="multipart",
    )
    assert response.status_code == 200 and len(response.json()["created"]) == 5
    bad = api.post(
        "/api/v1/runbook-imports",
        {"file": SimpleUploadedFile("e.md", b""), "dry_run": "false"},
        format="multipart",
    )
    assert bad.status_code == 400 and "empty" in " ".join(bad.json()["file"])
