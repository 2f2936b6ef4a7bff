"""Every edition (issue 22): articles in any served language, named by the caller or detected; summaries keyed by
language (the article's own where mT5 XL-Sum covers it, English for all); mixed-language batches; jobs, the archive
command and the client with ``source_lang``; metrics per language. On the tiny models, whose mT5 was trained on Hindi
only: these tests check the answers' structure, never their content."""

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from service.__main__ import main
from service.api import create_app
from service.client import Client
from service.pipeline import JobOptions, plan_summaries
from service.text.language import LANGUAGES

from .conftest import SEED_TEXT, wait_ready
from .indic_passages import PASSAGES
from .test_jobs import wait_job

XLSUM = [code for code, language in LANGUAGES.items() if language.xlsum]
OTHERS = ["kan_Knda", "asm_Beng"]  # two languages XL-Sum does not cover (one shares Bengali's script)
FAST = {"translation_num_beams": 1, "summary_num_beams": 1}


def article(code: str) -> str:
    """A language's passages as one article, a paragraph each."""
    return "\n\n".join(PASSAGES[code])


def iso(code: str) -> str:
    return LANGUAGES[code].iso


def assert_edition(result: dict, code: str, detected: bool = True, translated: bool = True) -> None:
    """What an article in ``code`` gets: its language in meta, its paragraphs, and the summaries its language has."""
    meta, summary = result["meta"], result["summary"]
    assert meta["source_lang"] == code
    if detected:
        assert meta["language_detection"]["lang"] == code and 0 < meta["language_detection"]["confidence"] <= 1
    else:
        assert meta["language_detection"] is None
    assert list(summary)[:2] == [iso(code), "en"] and summary["en"].strip()
    if LANGUAGES[code].xlsum:
        assert summary[iso(code)].strip() and meta["unavailable_summaries"] == {}
    else:
        assert summary[iso(code)] is None and "does not summarize" in meta["unavailable_summaries"][iso(code)]
    if translated:
        assert len(result["translation"]["paragraphs"]) == len(PASSAGES[code])  # paragraphs kept
        assert all(p.strip() for p in result["translation"]["paragraphs"])


@pytest.mark.parametrize("code", XLSUM + OTHERS)
def test_every_edition_end_to_end_without_a_hint(client, code):
    response = client.post("/summarize", json={"text": article(code)})
    assert response.status_code == 200, response.text
    assert_edition(response.json(), code)


def test_a_mixed_language_batch_answers_each_in_its_own_language(client):
    codes = ["hin_Deva", "ben_Beng", "urd_Arab", "tam_Taml", "kan_Knda", "mar_Deva"]
    articles = [{"id": code, "text": article(code)} for code in codes]
    articles[2]["source_lang"] = "ur"  # one named, the others detected
    response = client.post("/summarize", json={"articles": articles, "options": FAST})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == codes
    for code, result in zip(codes, results):
        assert_edition(result, code, detected=code != "urd_Arab")


def test_a_named_language_overrules_detection(client):
    """The editor's override: Marathi text sent as Hindi is treated as Hindi (the script must match)."""
    for given in ("hi", "hin_Deva", "HI-in"):
        response = client.post("/summarize", json={"text": article("mar_Deva"), "source_lang": given, "options": FAST})
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["meta"]["source_lang"] == "hin_Deva" and result["meta"]["language_detection"] is None
        assert list(result["summary"]) == ["hi", "en"]
    batch = {"articles": [{"id": "a", "text": article("mar_Deva")}, {"id": "b", "text": article("npi_Deva"),
             "source_lang": "ne"}], "source_lang": "mr", "options": FAST}  # fmt: skip
    results = client.post("/summarize", json=batch).json()["results"]
    assert [r["meta"]["source_lang"] for r in results] == ["mar_Deva", "npi_Deva"]  # the article's own code wins


def test_hindi_callers_see_no_change(client):
    for options in ({}, {"summary_languages": ["hi", "en"]}, {"summary_languages": ["source", "en"]}):
        result = client.post("/summarize", json={"text": SEED_TEXT, "options": FAST | options}).json()
        assert list(result["summary"]) == ["hi", "en"] and all(result["summary"].values())
        assert result["meta"]["source_lang"] == "hin_Deva"
    only_hindi = client.post("/summarize", json={"text": SEED_TEXT, "options": FAST | {"summary_languages": ["hi"]}})
    assert only_hindi.json()["summary"]["hi"] and only_hindi.json()["summary"]["en"] is None


@pytest.mark.parametrize(
    "code, asked, native, english, reasons",
    [("ben_Beng", ["source", "en"], True, True, set()), ("ben_Beng", ["bn"], True, False, set()),
     ("ben_Beng", ["en"], False, True, set()), ("ben_Beng", ["hi", "en"], False, True, {"hi"}),
     ("kan_Knda", ["source", "en"], False, True, {"kn"}), ("kan_Knda", ["source"], False, False, {"kn"}),
     ("kan_Knda", [], False, False, set())],
)  # fmt: skip
def test_the_summaries_each_language_gets(code, asked, native, english, reasons):
    plan = plan_summaries(code, asked)
    assert (plan.native, plan.english, set(plan.reasons)) == (native, english, reasons)
    assert plan.from_translation == (english and not LANGUAGES[code].xlsum)
    assert plan.keys[:2] == (iso(code), "en")


def test_summary_languages_other_than_the_article_are_null_with_a_reason(client):
    body = {"text": article("ben_Beng"), "options": FAST | {"summary_languages": ["hi", "EN", "bn-IN"]}}
    result = client.post("/summarize", json=body).json()
    assert list(result["summary"]) == ["bn", "en", "hi"] and result["summary"]["hi"] is None
    assert result["summary"]["bn"] and result["summary"]["en"]
    assert "Bengali" in result["meta"]["unavailable_summaries"]["hi"]


def test_a_language_without_xlsum_gets_its_english_summary_without_a_translation_asked(client):
    """mT5 summarizes the English translation: it is made even when the answer does not carry it."""
    body = {"text": article("mal_Mlym"), "options": FAST | {"translate": False}}
    result = client.post("/summarize", json=body).json()
    assert result["translation"] is None and result["summary"]["en"] and result["summary"]["ml"] is None
    assert result["meta"]["cache"]["sentences"] > 0 and result["meta"]["timings_ms"]["translate"] > 0


@pytest.mark.parametrize(
    "body, found",
    [({"text": "The government announced a new education policy on Tuesday."}, "Latin script"),
     ({"text": "دولت جمهوری اسلامی ایران روز سه شنبه سیاست آموزشی جدیدی را اعلام کرد."}, "Arabic script"),
     ({"text": "Правительство объявило о новой политике."}, "Cyrillic script"),
     ({"text": "१२३ । 456 😀🎉"}, "no letters"),
     ({"articles": [{"id": "ok", "text": article("hin_Deva")}, {"id": "english", "text": "Only English here."}]},
      "article english: "),
     ({"text": article("hin_Deva"), "source_lang": "bn"}, "mostly Devanagari script"),
     ({"text": article("hin_Deva"), "source_lang": "fr"}, "unknown or unsupported language code 'fr'"),
     ({"text": article("hin_Deva"), "source_lang": "en"}, "unknown or unsupported language code 'en'"),
     ({"text": article("hin_Deva"), "source_lang": "hi" * 40}, "over the limit of 20 (max_language_code_chars)"),
     ({"text": article("hin_Deva"), "source_lang": "hi\ud800"}, "unknown or unsupported language code"),
     ({"articles": [{"id": "x", "text": "क", "source_lang": "zz"}]}, "article x: source_lang: unknown"),
     ({"text": "क", "options": {"summary_languages": ["fr"]}}, "summary_languages: unknown"),
     ({"text": "क", "options": {"summary_languages": ["x" * 5000]}}, "over the limit of 20")],
)  # fmt: skip
def test_what_cannot_be_served_is_422_unsupported_language(client, body, found):
    """The old not_hindi (and wrong_script) is unsupported_language: detected, named or asked for, naming what was
    found or which limit."""
    response = client.post("/summarize", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_language" and found in error["message"], error
    assert len(error["message"]) < 1000  # a long code is not echoed


@pytest.mark.parametrize(
    "body",
    [{"text": "क", "source_lang": 7}, {"text": "क", "source_lang": ["hi"]}, {"text": "क", "source_lang": {"a": 1}},
     {"text": "क", "options": {"summary_languages": ["source", "en", "hi", "bn", "mr"]}},
     {"text": "क", "options": {"summary_languages": "hi"}}, {"text": "क", "options": {"summary_languages": [None]}},
     {"text": "क", "options": {"summary_languages": ["en", "en"]}}],
)  # fmt: skip
def test_malformed_language_fields_are_invalid_requests(client, body):
    response = client.post("/summarize", json=body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request", response.text


def test_translate_splits_by_the_named_language(runtime):
    """/translate's source_lang picks the sentence rules (Urdu ends sentences with ۔, which Hindi's rules ignore)."""
    pipeline = runtime.pipeline
    urdu = "پہلا جملہ۔ دوسرا جملہ؟ تیسرا جملہ۔"
    options = JobOptions(summary_languages=())
    assert pipeline.clean(urdu, lang="urd_Arab", options=options).layout.sentences == [
        "پہلا جملہ۔", "دوسرا جملہ؟", "تیسرا جملہ۔"
    ]
    detected = pipeline.clean(urdu, options=options)
    assert detected.language.code == "urd_Arab" and len(detected.layout.sentences) == 3


def test_translate_takes_every_served_language(client):
    for code in ("urd_Arab", "tam_Taml", "sat_Olck"):
        response = client.post("/translate", json={"text": article(code), "source_lang": code, "num_beams": 1})
        assert response.status_code == 200, response.text
        assert len(response.json()["paragraphs"]) == len(PASSAGES[code])
    wrong = client.post("/translate", json={"text": article("tam_Taml"), "source_lang": "ben_Beng"})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "unsupported_language"


def test_html_posts_are_split_by_their_language(client):
    html = "".join(f"<p>{p}</p>" for p in PASSAGES["urd_Arab"])
    body = {"text": html, "options": FAST | {"format": "html"}}
    result = client.post("/summarize", json=body).json()
    assert result["meta"]["source_lang"] == "urd_Arab" and result["summary"]["ur"]
    assert result["translation"]["html"].count("<p>") == len(PASSAGES["urd_Arab"])


def test_metrics_count_articles_per_language(client):
    client.post("/summarize", json={"text": article("guj_Gujr"), "options": FAST})
    client.post("/summarize", json={"text": article("guj_Gujr"), "source_lang": "gu", "options": FAST})
    text = client.get("/metrics").text
    assert 'language_texts_total{detected="true",lang="guj_Gujr"}' in text
    assert 'language_texts_total{detected="false",lang="guj_Gujr"}' in text
    assert 'language_article_duration_seconds_count{lang="guj_Gujr"} ' in text


def test_languages_lists_what_each_gets_without_a_key(settings_factory):
    with TestClient(create_app(settings_factory(api_keys=["k-1"]))) as c:
        body = c.get("/languages")
        assert body.status_code == 200 and c.get("/info").status_code == 401
    languages = {entry["code"]: entry for entry in body.json()["languages"]}
    assert set(languages) == set(LANGUAGES)
    assert languages["ben_Beng"]["summaries"] == {"bn": "mT5 XL-Sum", "en": "the native summary, translated by "
                                                  "IndicTrans2"}  # fmt: skip
    assert languages["kan_Knda"]["summaries"]["kn"] is None


def test_the_memory_keeps_languages_apart(settings_factory, tmp_path):
    """The same sentences sent as another language are new work (IndicTrans2's input carries the language tag)."""
    settings = settings_factory(cache="on", models_dir=str(tmp_path / "store"))
    with TestClient(create_app(settings)) as c:
        wait_ready(c)

        def cache(lang):
            body = {"text": article("mar_Deva"), "source_lang": lang, "options": FAST | {"summary_languages": []}}
            return c.post("/summarize", json=body).json()["meta"]["cache"]

        first = cache("mr")
        assert first["hits"] == 0 and cache("hi")["hits"] == 0
        assert cache("mr")["hits"] == first["sentences"]


def test_jobs_take_source_lang(settings_factory):
    with TestClient(create_app(settings_factory())) as c:
        wait_ready(c)
        refused = c.post("/jobs", json={"text": article("ben_Beng"), "source_lang": "xx"})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unsupported_language"
        english = c.post("/jobs", json={"text": "Only English here."})
        assert english.status_code == 422 and english.json()["error"]["code"] == "unsupported_language"
        body = {"articles": [{"id": "b", "text": article("ben_Beng"), "source_lang": "bn"},
                             {"id": "t", "text": article("tel_Telu")}], "options": FAST}  # fmt: skip
        job = c.post("/jobs", json=body).json()
        done = wait_job(c, job["status_url"])
        assert done["status"] == "done", done
        assert_edition(done["result"]["results"][0], "ben_Beng", detected=False)
        assert_edition(done["result"]["results"][1], "tel_Telu")


def test_summarize_file_reads_source_lang_per_line(tmp_path, monkeypatch, capsys):
    """Each line may name its language; a line whose code names no served language is refused before any model
    loads."""
    import service.bulk

    seen = []

    def worker():
        async def summarize(article_id, text, source_lang):
            seen.append((article_id, source_lang))
            raise service.bulk.BulkFailure(422, "stand_in", "not summarized here")

        async def close():
            pass

        return summarize, close

    monkeypatch.setattr(service.bulk, "in_process_worker", worker)
    lines = [{"id": "a", "text": "क", "source_lang": "bn"}, {"id": "b", "text": "क"},
             {"id": "c", "text": "क", "source_lang": "klingon"}, {"id": "d", "text": "क", "source_lang": ""}]  # fmt: skip
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    assert main(["summarize-file", str(source), "-o", str(out)]) == 1
    assert sorted(seen) == [("a", "bn"), ("b", None)]
    errors = {e["id"]: e for e in map(json.loads, out.with_suffix(".errors.jsonl").read_text("utf-8").splitlines())}
    assert {e["code"] for i, e in errors.items() if i in "cd"} == {"unsupported_language"}
    assert errors["c"]["line"] == 3 and "klingon" in errors["c"]["message"]


def test_summarize_file_in_process_serves_each_language(tmp_path, tiny_models, monkeypatch):
    settings = {"translation_model": tiny_models / "indictrans2", "summarization_model": tiny_models / "mt5",
                "translation_max_new_tokens": 12, "models_dir": tmp_path / "store", "cache": "off", "offline": True}
    for name, value in settings.items():
        monkeypatch.setenv(f"SUMMARIZER_{name.upper()}", str(value))
    lines = [{"id": "kn", "text": article("kan_Knda")}, {"id": "pa", "text": article("pan_Guru"), "source_lang": "pa"}]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")
    assert main(["summarize-file", str(source), "-o", str(out)]) == 0
    results = {r["id"]: r for r in map(json.loads, out.read_text("utf-8").splitlines())}
    assert_edition(results["kn"], "kan_Knda")
    assert_edition(results["pa"], "pan_Guru", detected=False)


def test_the_client_takes_source_lang(live_server):
    with Client(live_server) as client:
        bengali = client.summarize(article("ben_Beng"), source_lang="bn", summary_num_beams=1)
        assert bengali.source_lang == "ben_Beng" and bengali.summary_native == bengali.summary["bn"]
        assert bengali.summary_hi is None and bengali.summary_en
        kannada, hindi = client.summarize([{"id": "k", "text": article("kan_Knda")}, SEED_TEXT.split("\n")[0]],
                                          summary_num_beams=1)  # fmt: skip
        assert kannada.source_lang == "kan_Knda" and kannada.summary_native is None and kannada.summary_en
        assert hindi.source_lang == "hin_Deva" and hindi.summary_hi == hindi.summary_native
    refused = httpx.post(live_server + "/summarize", json={"text": "क", "source_lang": "xx"})
    assert refused.json()["error"]["code"] == "unsupported_language"
