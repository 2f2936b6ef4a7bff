"""The translation memory: its stores (SQLite bound and eviction, a real Redis shared by two servers and killed
mid-run), its keys, and the service with it: hits on an updated article, outputs identical to no memory,
placeholders of the current request, opt-out, failures that never fail a request."""

import json
import logging
import shutil
import sqlite3
import subprocess
import time
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.memory import Memory, SqliteStore, digest

from .conftest import SEED_TEXT, free_port, running_server, wait_ready


# --- the SQLite store -------------------------------------------------------------------------------------------------
def test_sqlite_store_round_trip_and_shared_file(tmp_path):
    store = SqliteStore(tmp_path / "m.sqlite3", 1 << 20)
    store.put_many({b"a": "alpha", b"b": "बीटा"})
    assert store.get_many([b"a", b"b", b"c"]) == {b"a": "alpha", b"b": "बीटा"}
    other = SqliteStore(tmp_path / "m.sqlite3", 1 << 20)  # a second process or replica on the same disk
    assert other.get_many([b"b"]) == {b"b": "बीटा"}
    store.close()
    other.close()


def test_sqlite_store_stays_within_its_bound_and_evicts_least_recently_used(tmp_path):
    bound = 256 * 1024
    store = SqliteStore(tmp_path / "m.sqlite3", bound)
    value = "x" * 300
    store.put_many({b"kept": value, b"dropped": value})
    for batch in range(80):  # 80 × 50 entries of ~330 bytes: about 5 × the bound
        store.put_many({digest(batch, i): value for i in range(50)})
        assert store.get_many([b"kept"]) == {b"kept": value}  # used all along: never the least recent
        assert store.size_bytes() <= bound
    assert store.get_many([b"dropped"]) == {}
    assert store.get_many([digest(79, 49)]) == {digest(79, 49): value}  # the newest are there
    db = sqlite3.connect(tmp_path / "m.sqlite3")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (rows,) = db.execute("SELECT count(*) FROM memory").fetchone()
    db.close()
    assert 100 < rows < 4000
    # Freed pages are reused: the file is the bound plus at most one batch's pages.
    assert (tmp_path / "m.sqlite3").stat().st_size <= bound + 64 * 1024
    store.close()


# --- the guard --------------------------------------------------------------------------------------------------------
class Failing:
    def __init__(self):
        self.calls = 0

    def get_many(self, keys):
        self.calls += 1
        raise sqlite3.OperationalError("database or disk is full")

    put_many = get_many

    def size_bytes(self):
        raise ConnectionError("down")

    def close(self):
        pass


def test_a_failing_store_is_a_miss_warned_once_counted_and_left_alone_for_a_while(caplog):
    events = []
    observer = SimpleNamespace(on_cache=lambda *a: events.append(a), on_cache_error=lambda: events.append("error"))
    store = Failing()
    memory = Memory(store, {"translation": "f"}, observer)
    with caplog.at_level(logging.WARNING, logger="service.memory"):
        assert memory.lookup("translation", [b"a", b"b"]) == [None, None]
        memory.remember({b"a": "x"})
        assert memory.lookup("translation", [b"a"]) == [None]
    assert store.calls == 1  # after the failure the store is not asked again until the retry time
    assert events == ["error", ("translation", 0, 2), ("translation", 0, 1)]
    assert len([r for r in caplog.records if "failed" in r.message]) == 1
    memory._down_until = 0  # the retry time has passed
    assert memory.lookup("translation", [b"a"]) == [None] and store.calls == 2


# --- keys -------------------------------------------------------------------------------------------------------------
def test_every_part_of_the_fingerprint_changes_it(tiny_models, tmp_path, settings_factory):
    from service import model_store
    from service.runtime import fingerprints

    copy = tmp_path / "indictrans2"
    shutil.copytree(tiny_models / "indictrans2", copy)
    settings = settings_factory(translation_model=str(copy))

    def fingerprint(settings=settings, dtype="float32", device="cpu", max_new_tokens=12, touch=False, gemm="onednn"):
        if touch:
            weights = copy / "model.safetensors"
            weights.write_bytes(weights.read_bytes())  # same size, new modification time
        sources = {kind: model_store.ModelSource(str(p), p, "local", "local")
                   for kind, p in (("translation", copy), ("summarization", tiny_models / "mt5"))}  # fmt: skip
        models = SimpleNamespace(translator=SimpleNamespace(max_new_tokens=max_new_tokens),
                                 dtypes={"translation": dtype, "summarization": "float32"},
                                 device=SimpleNamespace(type=device), cpu_gemm={"translation": gemm})  # fmt: skip
        return fingerprints(settings, models, sources)

    base = fingerprint()
    variants = {
        "backend": fingerprint(dtype="ctranslate2-float32"),  # the backend that ran, read off its dtype label
        "compute type": fingerprint(dtype="bfloat16"),
        "device": fingerprint(device="cuda"),
        "CPU kernels": fingerprint(gemm="default"),
        "length limit": fingerprint(max_new_tokens=64),
        "weights": fingerprint(touch=True),
    }
    for part, changed in variants.items():
        assert changed["translation"] != base["translation"], part
    base = fingerprint()  # after the weights' new time
    summary_inputs = fingerprint(settings.model_copy(update={"summary_input_tokens": 256}))
    assert summary_inputs["summarization"] != base["summarization"]
    assert summary_inputs["translation"] == base["translation"]


# --- the service with the memory ----------------------------------------------------------------------------------------
def updated(text: str) -> str:
    """A running story's next version: a new paragraph on top, one figure changed."""
    return "ताज़ा जानकारी: राहत दल रात भर काम करते रहे।\n" + text.replace("2024", "2025", 1)


@pytest.fixture(scope="module")
def with_memory(settings_factory, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("memory")
    with TestClient(create_app(settings_factory(cache="on", cache_dir=str(cache_dir)))) as client:
        wait_ready(client)
        yield client, cache_dir / "translation-memory.sqlite3"


def summarize(client, text, **options):
    response = client.post("/summarize", json={"text": text, "options": options})
    assert response.status_code == 200, response.text
    return response.json()


def engine_items(client) -> int:
    return client.app.state.runtime.pipeline.translation_engine.stats.items


def test_an_updated_article_costs_only_its_changed_sentences_and_reads_the_same(with_memory, client):
    memory_client, _ = with_memory
    assert "2024" in SEED_TEXT
    before = engine_items(memory_client)
    first = summarize(memory_client, SEED_TEXT, summary_languages=["hi"])
    first_work = engine_items(memory_client) - before
    sentences = first["meta"]["cache"]["sentences"]
    assert first["meta"]["cache"] == {"sentences": sentences, "hits": 0, "summary_reused": False}
    assert first_work == sentences

    again = summarize(memory_client, SEED_TEXT, summary_languages=["hi"])
    assert again["meta"]["cache"] == {"sentences": sentences, "hits": sentences, "summary_reused": True}
    assert engine_items(memory_client) - before == first_work  # nothing more went to the engine

    before = engine_items(memory_client)
    update = summarize(memory_client, updated(SEED_TEXT), summary_languages=["hi"])
    work = engine_items(memory_client) - before
    cache = update["meta"]["cache"]
    assert cache["summary_reused"] is False and cache["sentences"] == sentences + 1
    assert work == cache["sentences"] - cache["hits"] <= 0.2 * first_work

    # Byte-identical to a service without the memory, for every one of the three calls.
    for text, result in ((SEED_TEXT, first), (SEED_TEXT, again), (updated(SEED_TEXT), update)):
        plain = summarize(client, text, summary_languages=["hi"])
        assert result["translation"] == plain["translation"]
        assert result["summary"] == plain["summary"]


def test_a_correction_past_the_lead_keeps_the_summary_and_one_within_it_does_not(with_memory):
    client, _ = with_memory
    long = "इस लंबे लेख का पहला अनुच्छेद केवल इसी परीक्षण के लिए है।\n" + "\n".join([SEED_TEXT] * 3)
    first = summarize(client, long, summary_languages=["hi"], translate=False)
    assert first["meta"]["truncated"] is True and first["meta"]["cache"]["summary_reused"] is False
    tail = summarize(client, long + "\nअंत में एक नया वाक्य जोड़ा गया।", summary_languages=["hi"], translate=False)
    assert tail["meta"]["cache"]["summary_reused"] is True and tail["summary"] == first["summary"]
    lead = summarize(client, "सबसे ऊपर एक नया वाक्य।\n" + long, summary_languages=["hi"], translate=False)
    assert lead["meta"]["cache"]["summary_reused"] is False


def test_a_hit_restores_the_placeholders_of_the_current_request(with_memory):
    client, _ = with_memory
    pipeline = client.app.state.runtime.pipeline
    memory, translator = pipeline.memory, pipeline.translator
    sentence = "पूरी रिपोर्ट https://example.com/report-{} पर पढ़ें।"
    (piece,) = translator.prepare([sentence.format("a")])
    (other,) = translator.prepare([sentence.format("b")])
    assert piece.input_ids == other.input_ids  # the URL is a placeholder: one key for both
    # What the model would have produced, kept before post-processing: the placeholder, not a URL.
    key = memory.key("translation", "hin_Deva", "eng_Latn", 5, piece.input_ids)
    memory.remember({key: "Read the full report at <ID1> ."})
    for variant in ("a", "b"):
        response = client.post("/translate", json={"text": sentence.format(variant)})
        assert response.status_code == 200, response.text
        assert response.json()["translation"] == f"Read the full report at https://example.com/report-{variant}."


def test_beams_and_languages_are_part_of_the_key(with_memory):
    client, _ = with_memory
    text = "नदी का जलस्तर लगातार बढ़ रहा है।"
    before = engine_items(client)
    for body in ({"text": text}, {"text": text, "num_beams": 2}, {"text": text, "source_lang": "mar_Deva"}):
        assert client.post("/translate", json=body).status_code == 200
    assert engine_items(client) - before == 3  # three different keys: three misses
    client.post("/translate", json={"text": text, "num_beams": 2})
    assert engine_items(client) - before == 3


def test_opting_out_stores_nothing_and_reads_nothing(with_memory):
    client, path = with_memory
    text = "यह खबर अभी प्रकाशित नहीं हुई है और इसे गोपनीय रखा जाना है।"

    def rows():
        with sqlite3.connect(path) as db:
            return db.execute("SELECT count(*) FROM memory").fetchone()[0]

    stored = rows()
    first = summarize(client, text, cache=False)
    assert first["meta"]["cache"] == {"sentences": 1, "hits": 0, "summary_reused": False}
    assert rows() == stored
    assert client.post("/translate", json={"text": text, "cache": False}).status_code == 200
    assert rows() == stored
    second = summarize(client, text, cache=False)
    assert second["meta"]["cache"]["hits"] == 0


def test_a_failing_store_never_fails_a_request_and_shows_in_the_metrics(with_memory, monkeypatch):
    client, _ = with_memory
    store = client.app.state.runtime.pipeline.memory.store
    monkeypatch.setattr(client.app.state.runtime.pipeline.memory, "_down_until", 0)

    def full(*_):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "get_many", full)
    monkeypatch.setattr(store, "put_many", full)
    result = summarize(client, "बाढ़ से प्रभावित गांवों में राहत सामग्री पहुंचाई गई।")
    assert result["summary"]["hi"] is not None and result["meta"]["cache"]["hits"] == 0
    metrics = client.get("/metrics").text
    assert _sample(metrics, "translation_memory_errors_total") >= 1
    client.app.state.runtime.pipeline.memory._down_until = 0


def _sample(metrics: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    line = next(x for x in metrics.splitlines() if x.startswith(name + (f"{{{wanted}}}" if wanted else " ")))
    return float(line.rsplit(" ", 1)[1])


def test_metrics_count_hits_and_misses_and_the_store_size(with_memory):
    client, _ = with_memory
    text = "मौसम विभाग ने अगले तीन दिनों तक भारी बारिश की चेतावनी दी है।"
    metrics = client.get("/metrics").text
    hits = _sample(metrics, "translation_memory_lookups_total", model="translation", result="hit")
    client.post("/translate", json={"text": text})
    client.post("/translate", json={"text": text})
    metrics = client.get("/metrics").text
    assert _sample(metrics, "translation_memory_lookups_total", model="translation", result="hit") == hits + 1
    assert _sample(metrics, "translation_memory_size_bytes") > 0


def test_cache_off_means_no_memory(client):
    assert client.app.state.runtime.pipeline.memory is None
    assert summarize(client, "आज बाजार बंद रहे।")["meta"]["cache"]["hits"] == 0


# --- Redis, shared by two servers ------------------------------------------------------------------------------------
@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed (scripts/setup.sh --test installs it)")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", process, client
    process.kill()
    process.wait()


@pytest.mark.slow
def test_two_servers_share_a_redis_memory_and_survive_its_death(tiny_models, tmp_path, redis_server):
    url, redis_process, redis_client = redis_server
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    with running_server(tiny_models, a, cache="on", cache_url=url) as (url_a, _), running_server(
        tiny_models, b, cache="on", cache_url=url
    ) as (url_b, _):
        body = {"text": SEED_TEXT, "options": {"summary_languages": ["hi"]}}
        first = httpx.post(url_a + "/summarize", json=body, timeout=120).json()
        assert first["meta"]["cache"]["hits"] == 0
        assert redis_client.dbsize() > 0
        assert all(redis_client.ttl(k) > 0 for k in redis_client.scan_iter(count=100))
        second = httpx.post(url_b + "/summarize", json=body, timeout=120).json()
        n = first["meta"]["cache"]["sentences"]
        assert second["meta"]["cache"] == {"sentences": n, "hits": n, "summary_reused": True}
        assert second["translation"] == first["translation"] and second["summary"] == first["summary"]

        redis_process.kill()
        redis_process.wait()
        other = {"text": updated(SEED_TEXT), "options": {"summary_languages": ["hi"]}}
        for server in (url_a, url_b):
            response = httpx.post(server + "/summarize", json=other, timeout=120)
            assert response.status_code == 200, response.text
            assert response.json()["meta"]["cache"]["hits"] == 0
            metrics = httpx.get(server + "/metrics").text
            assert _sample(metrics, "translation_memory_errors_total") >= 1
        assert json.loads(httpx.get(url_a + "/readyz").text)["status"] == "ready"
