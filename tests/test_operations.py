"""Production behaviour: API keys, rate limits, CORS, metrics, logs, fault isolation and the bad-input catalogue."""

import logging
import threading
import time

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.api.access import TokenBuckets

from .conftest import SEED_TEXT, wait_ready

GOOD = {"text": "भाजपा ने आज बैठक की।"}


@pytest.fixture(scope="module")
def keyed(settings_factory, tmp_path_factory):
    keys_file = tmp_path_factory.mktemp("keys") / "keys.txt"
    keys_file.write_text("# newsroom CMS keys\nfile-key-1\n\n", encoding="utf-8")
    settings = settings_factory(api_keys=["env-key-1"], api_keys_file=keys_file, rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        yield c


def test_keys_guard_every_endpoint_but_health(keyed):
    assert keyed.get("/healthz").status_code == 200 and keyed.get("/readyz").status_code == 200
    for method, path in (("post", "/summarize"), ("post", "/translate"), ("get", "/info"), ("get", "/metrics"),
                         ("get", "/docs"), ("get", "/openapi.json")):  # fmt: skip
        missing = getattr(keyed, method)(path, json=GOOD) if method == "post" else keyed.get(path)
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key", path
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = keyed.request(method.upper(), path, json=GOOD if method == "post" else None, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "invalid_api_key", path
    assert keyed.post("/summarize", json=GOOD, headers={"Authorization": "Bearer env-key-1"}).status_code == 200
    assert keyed.post("/summarize", json=GOOD, headers={"X-API-Key": "file-key-1"}).status_code == 200
    assert keyed.get("/metrics", headers={"Authorization": "bearer file-key-1"}).status_code == 200


def test_keys_are_never_logged(keyed, caplog):
    with caplog.at_level(logging.INFO):
        keyed.post("/summarize", json={"text": SEED_TEXT.split("\n")[0]}, headers={"X-API-Key": "file-key-1"})
        keyed.post("/summarize", json=GOOD, headers={"X-API-Key": "wrong-secret-key"})
    logged = "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    assert "file-key-1" not in logged and "wrong-secret-key" not in logged
    assert SEED_TEXT.split("\n")[0][:30] not in logged  # article text is not logged by default
    lines = [r for r in caplog.records if r.name == "service.access"]
    assert lines and all(r.request_id and r.status and r.path for r in lines)
    assert any(r.caller and r.caller.startswith("key:") for r in lines)


def test_named_keys_have_their_own_rate_and_daily_quota(settings_factory, caplog):
    keys = ["plain-key", {"key": "cms-secret", "name": "cms", "daily_chars": 100},
            {"key": "slow-secret", "name": "slow", "rate_per_minute": 1}]  # fmt: skip
    settings = settings_factory(api_keys=keys, rate_limit_per_minute=0, rate_limit_burst=1)
    text = "भाजपा ने आज दिल्ली में बैठक की और आगे की रणनीति पर चर्चा की।"  # 60 characters
    assert len(text) == 60
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO):
        wait_ready(client)
        cms, slow, plain = ({"X-API-Key": k} for k in ("cms-secret", "slow-secret", "plain-key"))
        assert client.post("/translate", json={"text": text}, headers=cms).status_code == 200
        spent = client.post("/translate", json={"text": text}, headers=cms)
        assert spent.status_code == 429 and spent.json()["error"]["code"] == "quota_exceeded"
        assert "resets at" in spent.json()["error"]["message"] and 0 < int(spent.headers["Retry-After"]) <= 86400
        jobs = client.post("/jobs", json={"text": text}, headers=cms)  # jobs count against it too
        assert jobs.status_code == 429 and jobs.json()["error"]["code"] == "quota_exceeded"
        assert client.post("/translate", json={"text": text}, headers=slow).status_code == 200
        limited = client.post("/translate", json={"text": text}, headers=slow)
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        for _ in range(3):  # no rate of its own and none global: never limited
            assert client.post("/translate", json={"text": text}, headers=plain).status_code == 200
        metrics = client.get("/metrics", headers=plain).text
        assert 'api_key_characters_total{key="cms"} 60.0' in metrics
        assert 'api_key_requests_total{key="cms"} 3.0' in metrics
        assert 'api_key_characters_total{key="key-' in metrics  # a plain key is named by a hash
    for secret in ("cms-secret", "slow-secret", "plain-key"):
        assert secret not in metrics and secret not in caplog.text


def test_a_bad_key_line_names_the_line_and_never_the_key(settings_factory, tmp_path):
    from service.config import InvalidSetting

    keys = tmp_path / "keys.txt"
    keys.write_text('first-key\n{"key": "k2", "name": "cms", "daily_chars": 5000}\n{"key": "leak-me", "quota": 1}\n')
    with pytest.raises(InvalidSetting) as raised:
        settings_factory(api_keys_file=keys).accepted_keys()
    assert "line 3" in str(raised.value) and "quota" in str(raised.value) and "leak-me" not in str(raised.value)
    keys.write_text('{"key": "k2", "name": "cms", "daily_chars": 5000}\n')
    [spec] = settings_factory(api_keys_file=keys).accepted_keys()
    assert (spec.name, spec.daily_chars) == ("cms", 5000)
    with pytest.raises(InvalidSetting, match="share the name"):
        settings_factory(api_keys=[{"key": "a", "name": "x"}, {"key": "b", "name": "x"}]).accepted_keys()


def test_daily_quota_resets_at_utc_midnight():
    from service.api.access import DailyQuotas

    quotas, midnight = DailyQuotas(), 20_000 * 86400
    assert quotas.charge("cms", 100, 80, now=midnight - 10) == 0
    assert quotas.charge("cms", 100, 30, now=midnight - 10) == 10  # seconds to the reset
    assert quotas.charge("cms", 100, 30, now=midnight + 1) == 0


def test_token_bucket():
    buckets = TokenBuckets(rate_per_minute=60, burst=2)
    assert buckets.take("a", now=0) == 0 and buckets.take("a", now=0) == 0
    assert buckets.take("a", now=0) == pytest.approx(1.0)  # empty: one token a second
    assert buckets.take("b", now=0) == 0  # callers are separate
    assert buckets.take("a", now=1.0) == 0


def test_rate_limit_answers_429_with_retry_after(settings_factory):
    settings = settings_factory(api_keys=["a", "b"], rate_limit_per_minute=6, rate_limit_burst=2)
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        statuses = [c.get("/info", headers={"X-API-Key": "a"}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = c.get("/info", headers={"X-API-Key": "a"})
        assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
        assert c.get("/info", headers={"X-API-Key": "b"}).status_code == 200
        assert c.get("/healthz").status_code == 200  # health checks are never limited


def test_cors_allow_list(settings_factory):
    settings = settings_factory(cors_origins=["https://cms.example"], warmup=False)
    with TestClient(create_app(settings)) as c:
        preflight = {"Origin": "https://cms.example", "Access-Control-Request-Method": "POST"}
        allowed = c.options("/summarize", headers=preflight | {"Access-Control-Request-Headers": "x-api-key"})
        assert allowed.headers.get("access-control-allow-origin") == "https://cms.example"
        other = c.options("/summarize", headers=preflight | {"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_metrics_expose_requests_latency_queues_batches(client):
    client.post("/summarize", json={"text": SEED_TEXT.split("\n")[0]})
    client.post("/summarize", json={"text": "no hindi"})
    text = client.get("/metrics").text
    for series in (
        'http_requests_total{method="POST",route="/summarize",status="200"}',
        'http_requests_total{method="POST",route="/summarize",status="422"}',
        'http_request_duration_seconds_bucket{le="0.05",route="/summarize"}',
        'pipeline_stage_duration_seconds_count{stage="translate"}',
        'engine_queue_depth{engine="translation"}',
        'engine_queue_depth{engine="summarization"}',
        'engine_drain_rate_items_per_second{engine="translation"}',
        'engine_predicted_wait_seconds{engine="translation",lane="interactive"}',
        'engine_predicted_wait_seconds{engine="summarization",lane="bulk"}',
        'engine_batch_size_bucket{engine="translation",le="1.0"}',
        'engine_batch_padded_tokens_count{engine="summarization"}',
        'model_input_tokens_total{model="translation"}',
        'model_output_tokens_total{model="summarization"}',
        'model_load_seconds{model="translation"}',
        "service_ready 1.0",
    ):
        assert series in text, series


def test_unrouted_paths_do_not_grow_metric_labels(client):
    for i in range(5):
        client.get(f"/random-{i}")
    assert "/random-" not in client.get("/metrics").text


# --- fault isolation -----------------------------------------------------------------------------------------------
MARKER = "क्षत्रपविस्फोट"


def faulty_runtime(runtime, settings):
    """The shared models with engines whose translation backend raises for any batch holding the marker."""
    from service.runtime import Runtime, make_pipeline

    translator = runtime.pipeline.translator
    marker_ids = set(translator.prepare([MARKER])[0].input_ids) - set(translator.prepare([GOOD["text"]])[0].input_ids)

    class Faulty:
        def __init__(self, inner):
            self.inner, self.tokenizer, self.device = inner, inner.tokenizer, inner.device

        def generate_ids(self, rows, **kwargs):
            if any(marker_ids & set(row) for row in rows):
                raise RuntimeError("injected fault")
            return self.inner.generate_ids(rows, **kwargs)

    pipeline = make_pipeline(Faulty(translator), runtime.pipeline.summarizer, settings)
    pipeline.translator = translator  # preparing and finishing stay the real ones
    return Runtime(settings, pipeline, runtime.device, runtime.dtypes, runtime.sources)


def test_a_failing_input_fails_only_its_own_request(settings_factory, runtime):
    settings = settings_factory(warmup=False, max_wait_ms=50)
    with TestClient(create_app(settings, runtime_factory=lambda: faulty_runtime(runtime, settings))) as c:
        wait_ready(c)
        bad = {"text": f"यह {MARKER} वाला वाक्य है।", "options": {"summary_languages": []}}
        good = {"text": SEED_TEXT.split("\n")[2], "options": {"summary_languages": []}}
        results = {}

        def call(name, body):
            results[name] = c.post("/summarize", json=body, headers={"X-Request-ID": name})

        threads = [threading.Thread(target=call, args=(f"req-{i}", bad if i == 0 else good)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        failed = results.pop("req-0")
        assert failed.status_code == 500
        assert failed.json()["error"] == {
            "code": "inference_failed", "message": failed.json()["error"]["message"], "request_id": "req-0"
        }  # fmt: skip
        assert all(r.status_code == 200 for r in results.values())
        assert c.post("/summarize", json=good).status_code == 200


# --- bad input catalogue (the rest is in test_api.py) --------------------------------------------------------------
def test_ten_megabyte_single_line_article(client):
    body = ('{"text": "' + "क" * 10_000_000 + '"}').encode()
    response = client.post("/summarize", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert client.post("/summarize", json=GOOD).status_code == 200


def test_thousands_of_one_character_sentences(client):
    response = client.post("/summarize", json={"text": "क। " * 3000})
    assert response.status_code == 413 and "sentences" in response.json()["error"]["message"]
    assert client.post("/summarize", json=GOOD).status_code == 200


def test_control_characters_and_markup_are_cleaned(client):
    response = client.post("/summarize", json={"text": "<p>भाजपा\x00 ने\x1b बैठक की।</p><script>x</script>"})
    assert response.status_code == 200
    assert response.json()["translation"]["paragraphs"]


def test_deadline_answers_504_and_drops_the_queued_work(settings_factory, runtime):
    from service.runtime import Runtime, make_pipeline

    settings = settings_factory(warmup=False, request_timeout_s=0.05)

    def factory():
        pipeline = make_pipeline(runtime.pipeline.translator, runtime.pipeline.summarizer, settings)
        return Runtime(settings, pipeline, runtime.device, runtime.dtypes, runtime.sources)

    with TestClient(create_app(settings, runtime_factory=factory)) as c:
        wait_ready(c)
        response = c.post("/summarize", json={"text": SEED_TEXT})
        assert response.status_code == 504 and response.json()["error"]["code"] == "deadline_exceeded"
        engines = c.app.state.runtime.engines
        deadline = time.monotonic() + 30
        while any(e.queue_depth for e in engines) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(e.queue_depth == 0 for e in engines)  # the cancelled request's items left the queues
