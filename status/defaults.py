"""The notice templates a new portal starts with (one per kind and language); managers edit them in
the admin. Made after every migrate (status.apps), so a flushed or new database has them too; one
that exists is never overwritten."""

# Values are listed in status.services.notice_context.
TEMPLATES = [
    (
        "started",
        "en",
        "[{{ page }}] Service disruption: {{ service }}",
        "We are experiencing a problem with {{ service }}.\n\n"
        "What: {{ title }}\n"
        "Since: {{ started_at }}\n"
        "Scope: {{ scope }}\n"
        "{% if update %}\n{{ update }}\n{% endif %}\n"
        "We will post updates here: {{ status_url }}",
    ),
    (
        "started",
        "ko",
        "[{{ page }}] 서비스 장애 안내: {{ service }}",
        "현재 {{ service }}에 문제가 발생하여 조치 중입니다.\n\n"
        "내용: {{ title }}\n"
        "발생 시각: {{ started_at }}\n"
        "영향 범위: {{ scope }}\n"
        "{% if update %}\n{{ update }}\n{% endif %}\n"
        "진행 상황은 다음 페이지에서 안내합니다: {{ status_url }}",
    ),
    (
        "update",
        "en",
        "[{{ page }}] Update: {{ service }}",
        "{{ title }}\n\n{{ update }}\n\nStarted: {{ started_at }} (for {{ downtime }} so far)\n"
        "Scope: {{ scope }}\n\nDetails: {{ status_url }}",
    ),
    (
        "update",
        "ko",
        "[{{ page }}] 진행 상황: {{ service }}",
        "{{ title }}\n\n{{ update }}\n\n발생 시각: {{ started_at }} (현재까지 {{ downtime }})\n"
        "영향 범위: {{ scope }}\n\n자세한 내용: {{ status_url }}",
    ),
    (
        "recovered",
        "en",
        "[{{ page }}] Recovered: {{ service }}",
        "{{ service }} is working normally again.\n\n"
        "What happened: {{ title }}\n"
        "Outage window: {{ started_at }} – {{ ended_at }}\n"
        "Downtime: {{ downtime }}\n"
        "Scope: {{ scope }}\n"
        "Data loss: {{ data_loss }}\n"
        "{% if update %}\n{{ update }}\n{% endif %}\n"
        "We apologise for the inconvenience. Details: {{ status_url }}",
    ),
    (
        "recovered",
        "ko",
        "[{{ page }}] 복구 완료: {{ service }}",
        "{{ service }}가 정상화되었습니다.\n\n"
        "내용: {{ title }}\n"
        "장애 시간: {{ started_at }} – {{ ended_at }}\n"
        "중단 시간: {{ downtime }}\n"
        "영향 범위: {{ scope }}\n"
        "데이터 손실: {{ data_loss }}\n"
        "{% if update %}\n{{ update }}\n{% endif %}\n"
        "이용에 불편을 드려 죄송합니다. 자세한 내용: {{ status_url }}",
    ),
]


def ensure_notice_templates(**kwargs) -> int:
    """post_migrate receiver: the default templates that are missing; returns how many were made."""
    from status.models import NoticeTemplate

    made = 0
    for kind, language, subject, body in TEMPLATES:
        _, created = NoticeTemplate.objects.get_or_create(
            kind=kind, language=language, defaults={"subject": subject, "body": body}
        )
        made += created
    return made
