from prometheus_client.parser import text_string_to_metric_families

from portal.tasks import heartbeat


def families(response):
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def test_metrics_need_authentication(client, db):
    assert client.get("/api/metrics").status_code == 401


def test_metrics_parse_as_prometheus_text_with_token_auth(api_as):
    heartbeat("portal")
    api = api_as("viewer")
    api.get("/api/health")
    response = api.get("/api/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = families(response)
    assert found["portal_uptime_seconds"].samples[0].value >= 0
    assert found["portal_database_up"].samples[0].value == 1
    queue = {s.labels["cluster"]: s.value for s in found["portal_queue_healthy"].samples}
    assert queue == {"portal": 1.0, "long": 0.0}
    requests = found["portal_http_requests"].samples
    assert any(s.labels["view"] == "api-health" and s.labels["status"] == "200" for s in requests)
