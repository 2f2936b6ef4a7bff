"""The HTTP API through FastAPI's test client: the happy paths, the error matrix, readiness and options."""

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from service.api import create_app

from .conftest import ROOT, SEED_TEXT, wait_ready

SEEDS = ROOT / "seeds"


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]


def test_seed_article_end_to_end(client):
    body = json.loads((SEEDS / "summarize_request.json").read_text(encoding="utf-8"))
    response = client.post("/summarize", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["id"] == body["id"]
    assert result["summary"]["hi"] and result["summary"]["en"]
    paragraphs = [p for p in SEED_TEXT.strip().split("\n") if p.strip()]
    assert len(result["translation"]["paragraphs"]) == len(paragraphs)
    assert result["translation"]["en"] == "\n".join(result["translation"]["paragraphs"])
    meta = result["meta"]
    # The defaults on a CPU: IndicTrans2 on CTranslate2 int8, mT5 on torch float32.
    assert meta["device"] == "cpu" and meta["dtype"] == {"translation": "ctranslate2-int8", "summarization": "float32"}
    assert set(meta["models"]) == {"translation", "summarization"}
    assert meta["input_tokens"] > 0 and isinstance(meta["truncated"], bool)
    assert set(meta["timings_ms"]) == {"split", "translate", "summarize", "total"}


def test_batch_keeps_request_order_and_ids(client):
    texts = [SEED_TEXT.split("\n")[i] for i in (3, 0, 5)]
    articles = [{"id": f"x{i}", "text": t} for i, t in enumerate(texts)]
    response = client.post("/summarize", json={"articles": articles, "options": {"summary_languages": ["hi"]}})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == ["x0", "x1", "x2"]
    for text, result in zip(texts, results):
        single = client.post("/summarize", json={"text": text, "options": {"summary_languages": ["hi"]}}).json()
        assert result["summary"]["hi"] == single["summary"]["hi"]
        assert result["translation"] == single["translation"]
        assert result["summary"]["en"] is None


def test_parts_can_be_switched_off(client):
    text = SEED_TEXT.split("\n")[0]
    only_translation = client.post("/summarize", json={"text": text, "options": {"summary_languages": []}}).json()
    assert only_translation["summary"] == {"hi": None, "en": None} and only_translation["translation"]["en"]
    assert only_translation["meta"]["timings_ms"]["summarize"] == 0
    only_summary = client.post("/summarize", json={"text": text, "options": {"translate": False}}).json()
    assert only_summary["translation"] is None and only_summary["summary"]["hi"] and only_summary["summary"]["en"]
    assert only_summary["meta"]["timings_ms"]["translate"] == 0


def test_translate_endpoint(client):
    body = json.loads((SEEDS / "translate_request.json").read_text(encoding="utf-8"))
    response = client.post("/translate", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert len(out["translations"]) == len(body["texts"]) and all(t["translation"] for t in out["translations"])
    single = client.post("/translate", json={"text": SEED_TEXT}).json()
    assert len(single["paragraphs"]) == len([p for p in SEED_TEXT.split("\n") if p.strip()])


LONG = "क" * 20_001
ERROR_MATRIX = [
    ("empty text", {"text": ""}, 422, "empty_text"),
    ("whitespace", {"text": " \n\t "}, 422, "empty_text"),
    ("zero-width only", {"text": "\u200b\u200c"}, 422, "empty_text"),
    ("no Devanagari", {"text": "Only English here."}, 422, "unsupported_language"),
    ("emoji only", {"text": "🙂🙂"}, 422, "unsupported_language"),
    ("too long", {"text": LONG}, 413, "article_too_long"),
    ("both forms", {"text": "नमस्ते", "articles": [{"id": "a", "text": "नमस्ते"}]}, 422, "invalid_request"),
    ("neither form", {"options": {}}, 422, "invalid_request"),
    ("duplicate ids", {"articles": [{"id": "a", "text": "एक"}, {"id": "a", "text": "दो"}]}, 422, "invalid_request"),
    ("too many", {"articles": [{"id": str(i), "text": "एक"} for i in range(17)]}, 413, "article_too_long"),
    ("wrong type", {"text": 42}, 422, "invalid_request"),
    ("unknown field", {"text": "नमस्ते", "colour": "red"}, 422, "invalid_request"),
    ("bad option", {"text": "नमस्ते", "options": {"long_article": "middle"}}, 422, "invalid_request"),
    ("beams out of bounds", {"text": "नमस्ते", "options": {"summary_num_beams": 99}}, 422, "invalid_request"),
    ("nothing to do", {"text": "नमस्ते", "options": {"translate": False, "summary_languages": []}}, 422, "invalid_request"),
]  # fmt: skip


@pytest.mark.parametrize("name, body, status, code", ERROR_MATRIX, ids=[c[0] for c in ERROR_MATRIX])
def test_error_matrix(client, name, body, status, code):
    assert_error(client.post("/summarize", json=body), status, code)
    assert client.post("/summarize", json={"text": "भाजपा ने बैठक की।"}).status_code == 200


@pytest.mark.parametrize(
    "content, headers, status, code",
    [
        (b'{"text": ', {"content-type": "application/json"}, 400, "malformed_json"),
        (b'{"text": "\xff\xfe"}', {"content-type": "application/json"}, 400, "malformed_json"),
        (b"text=hello", {"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        (b'{"text": "x"}', {}, 415, "unsupported_media_type"),
        (b"[" * 100_000 + b"]" * 100_000, {"content-type": "application/json"}, 400, "malformed_json"),
    ],
    ids=["truncated JSON", "invalid UTF-8", "form body", "no content type", "deeply nested"],
)
def test_malformed_bodies(client, content, headers, status, code):
    assert_error(client.post("/summarize", content=content, headers=headers), status, code)
    assert client.post("/summarize", json={"text": "भाजपा ने बैठक की।"}).status_code == 200


def test_body_over_limit_is_refused_before_parsing(settings_factory):
    app = create_app(settings_factory(max_request_bytes=1000))
    with TestClient(app) as small:
        wait_ready(small)
        assert_error(small.post("/summarize", json={"text": "क" * 2000}), 413, "request_too_large")


def test_unsupported_language_pair_names_the_supported_ones(client):
    response = client.post("/translate", json={"text": "नमस्ते", "source_lang": "eng_Latn", "target_lang": "hin_Deva"})
    assert_error(response, 422, "unsupported_language")
    assert "hin_Deva→eng_Latn" in response.json()["error"]["message"]


def test_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "cms-42"})
    assert response.headers["x-request-id"] == "cms-42"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"


def test_unknown_route_is_json(client):
    assert_error(client.get("/nope"), 404, "not_found")


def test_info_and_docs(client):
    info = client.get("/info").json()
    assert info["ready"] and info["device"] == "cpu" and info["limits"]["max_article_chars"] == 20_000
    assert info["models"]["translation"]["revision"] == "local"
    assert info["decoding"]["decoder"] == "fast"
    assert info["decoding"]["cpu_gemm"]["summarization"] == "onednn"  # mT5 on torch, its layers packed for oneDNN
    engines = info["engines"]
    assert set(engines) == {"translation", "summarization"} and set(engines["translation"]["predicted_wait_s"]) == {
        "interactive", "bulk"}  # fmt: skip
    assert engines["translation"]["queue_depth"] == 0 and engines["translation"]["drain_rate_items_per_s"] >= 0
    schema = client.get("/openapi.json").json()
    assert {"/summarize", "/translate", "/healthz", "/readyz", "/info"} <= set(schema["paths"])
    examples = json.dumps(schema, ensure_ascii=False)
    assert SEED_TEXT.split("\n")[0][:40] in examples
    assert client.get("/docs").status_code == 200


def test_not_ready_until_models_load(settings_factory, runtime):
    from service.runtime import Runtime, make_pipeline

    release = threading.Event()
    settings = settings_factory(warmup=False)

    def slow_factory():  # the shared models with engines of their own (the app closes them on shutdown)
        release.wait(30)
        pipeline = make_pipeline(runtime.pipeline.translator, runtime.pipeline.summarizer, settings)
        return Runtime(settings, pipeline, runtime.device, runtime.dtypes, runtime.sources)

    with TestClient(create_app(settings, runtime_factory=slow_factory)) as c:
        assert c.get("/healthz").status_code == 200
        assert_error(c.post("/summarize", json={"text": "नमस्ते"}), 503, "not_ready")
        assert c.get("/readyz").status_code == 503
        release.set()
        wait_ready(c)
        assert c.get("/readyz").json() == {"status": "ready", "jobs": {"available": True, "problem": None}}


def test_device_auto_is_cpu_here():
    from service.engine.device import resolve_device, resolve_dtype

    device = resolve_device("auto")
    assert device.type == "cpu" and str(resolve_dtype("auto", device)) == "torch.float32"


def test_a_request_predicted_to_miss_its_deadline_gets_429_before_any_work(client):
    from service.engine.scheduler import DrainModel

    engines = client.app.state.runtime.engines
    batches_before = [e.stats.batches for e in engines]
    models = [e.drain for e in engines]
    try:
        for engine in engines:
            engine.drain = DrainModel(engine.max_batch_size)  # as measured on a flooded engine: 100 s per item
            engine.drain.observe(1, 100.0)
        started = time.perf_counter()
        response = client.post("/summarize", json={"text": SEED_TEXT}, headers={"X-Request-Timeout": "30"})
        refused_in = time.perf_counter() - started
        assert_error(response, 429, "overloaded")
        assert "predicted" in response.json()["error"]["message"] and int(response.headers["retry-after"]) >= 1
        assert refused_in < 1
        assert [e.stats.batches for e in engines] == batches_before and all(e.queue_depth == 0 for e in engines)
        translate = client.post("/translate", json={"texts": ["आज बारिश हुई।", "कल धूप थी।"]})
        assert_error(translate, 429, "overloaded")
    finally:
        for engine, model in zip(engines, models):
            engine.drain = model
    assert client.post("/translate", json={"text": "आज बारिश हुई।"}).status_code == 200


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", "", "1e400", "٣", "1_0", "0x10", " 5 s"])
def test_a_bad_request_timeout_header_is_a_422_that_names_it(client, value):
    headers = {"X-Request-Timeout": value.encode()}  # as sent on the wire (UTF-8 bytes)
    response = client.post("/translate", json={"text": "आज बारिश हुई।"}, headers=headers)
    assert_error(response, 422, "invalid_request_timeout")
    assert "X-Request-Timeout" in response.json()["error"]["message"]


def test_the_request_timeout_header_is_capped_by_the_setting(client):
    ok = client.post("/translate", json={"text": "आज बारिश हुई।"}, headers={"X-Request-Timeout": "999999999"})
    assert ok.status_code == 200


def test_the_python_client_sends_its_timeout_as_the_request_deadline():
    from service.client import AsyncClient, Client

    with Client("http://127.0.0.1:9", timeout_s=42) as sync:
        assert sync._http.headers["x-request-timeout"] == "42"
    assert AsyncClient("http://127.0.0.1:9", timeout_s=7.5)._http.headers["x-request-timeout"] == "7.5"
