"""Glossaries (issue 24, part 3) and the checks on every result (part 2): ownership, bounds, longest match on
Devanagari word boundaries, enforcement through IndicTrans2's placeholders (text, HTML, the English summary), the
translation memory's key, a model that drops or mangles a placeholder, /check, on_unsupported=drop, jobs; all off the
event loop and linear in what a caller sends.

The tiny test models write random text, so the tests that need the model to carry a placeholder through replace the
translation engine (the model boundary) with a double that writes back the placeholders of its input, or drops or
mangles them; and the summary engine with one that answers a fixed Hindi summary."""

import re
import threading

import pytest
from fastapi.testclient import TestClient

from service import review
from service.api import create_app
from service.checks.glossary import Glossary
from service.errors import InvalidRequest
from service.glossaries import Limits, SqliteGlossaries, check_entries, parse_table
from service.text.indic_processing import LostTerm, preprocess, restore

from .conftest import free_port, wait_ready
from .test_jobs import wait_job
from .test_linear_text import FAMILIES, assert_linear
from .test_memory import start_redis

ALPHA, BETA = {"X-API-Key": "alpha-glossary-key"}, {"X-API-Key": "beta-glossary-key"}
PARTY = [{"source": "भाजपा", "target": "BJP"}, {"source": "विधायक", "target": "MLA"}]
LIMITS = dict(max_glossary_entries=5, max_glossary_bytes=2000, max_glossary_term_chars=40, max_glossaries_per_key=3,
              max_inline_glossary_entries=3, max_check_chars=500, max_findings=12)  # fmt: skip


@pytest.fixture(scope="module")
def app(settings_factory, tmp_path_factory):
    folder = tmp_path_factory.mktemp("glossaries")
    keys = [{"key": "alpha-glossary-key", "name": "alpha"}, {"key": "beta-glossary-key", "name": "beta"}]
    settings = settings_factory(api_keys=keys, cache="on", cache_dir=str(folder / "memory"), cache_timeout_ms=5000,
                                glossaries_db=str(folder / "glossaries.sqlite3"), **LIMITS)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def clean(app):
    """No glossary left from another test."""
    yield app
    for headers in (ALPHA, BETA):
        for info in app.get("/glossaries", headers=headers).json()["glossaries"]:
            app.delete(f"/glossaries/{info['name']}", headers=headers)


def put(client, name, entries, headers=ALPHA):
    return client.put(f"/glossaries/{name}", json={"entries": entries}, headers=headers)


def assert_error(response, status, code, *words):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], error


# --- the model boundary ----------------------------------------------------------------------------------------------
class EchoModel:
    """The translation engine's double: each sentence comes back as its placeholders (``<ID1> <ID2>``) and a word,
    or with them dropped, or mangled (``< ID 1 >``). Counts the sentences it was given."""

    def __init__(self, pipeline, mode="keep"):
        tokenizer = pipeline.translator.tokenizer
        self.pieces = {i: piece for piece, i in tokenizer.src_vocab.items()}
        self.spm, self.mode, self.sentences = tokenizer.src_spm, mode, 0

    async def run(self, rows, costs, key=None, lane="interactive", deadline=None):
        self.sentences += len(rows)
        out = []
        for row in rows:
            source = self.spm.decode_pieces([self.pieces[i] for i in row[2:-1]])
            serials = re.findall(r"< ID(\d+) >", source)
            if self.mode == "drop":
                serials = serials[1:]  # the first placeholder is lost
            spelled = [f"< ID {n} >" if self.mode == "mangle" else f"<ID{n}>" for n in serials]
            out.append(" ".join(spelled + ["said", "."]))
        return out


@pytest.fixture
def echo(app, monkeypatch):
    pipeline = app.app.state.runtime.pipeline

    def use(mode="keep", summary=None):
        model = EchoModel(pipeline, mode)
        monkeypatch.setattr(pipeline.translation_engine, "run", model.run)
        if summary is not None:
            async def summarize(rows, costs, key=None, lane="interactive", deadline=None):
                return [summary] * len(rows)

            monkeypatch.setattr(pipeline.summary_engine, "run", summarize)
        return model

    return use


# --- ownership -------------------------------------------------------------------------------------------------------
def test_a_glossary_belongs_to_the_key_that_made_it(clean):
    client = clean
    made = put(client, "desk", PARTY)
    assert made.status_code == 200, made.text
    assert made.json()["entry_count"] == 2 and re.fullmatch(r"[0-9a-f]{16}", made.json()["version"])
    text = "भाजपा विधायक ने बैठक की।"
    for response in (
        client.get("/glossaries/desk", headers=BETA),
        client.delete("/glossaries/desk", headers=BETA),
        client.post("/summarize", json={"text": text, "options": {"glossary": "desk"}}, headers=BETA),
        client.post("/translate", json={"text": text, "glossary": "desk"}, headers=BETA),
        client.post("/check", json={"source": text, "translation": "x", "glossary": "desk"}, headers=BETA),
        client.post("/jobs", json={"text": text, "options": {"glossary": "desk"}}, headers=BETA),
    ):
        assert_error(response, 404, "glossary_not_found", "desk")
    assert client.get("/glossaries", headers=BETA).json() == {"glossaries": []}
    # Beta's own glossary of the same name is another one; alpha's is untouched.
    assert put(client, "desk", [{"source": "कांग्रेस", "target": "Congress"}], headers=BETA).status_code == 200
    mine = client.get("/glossaries/desk", headers=ALPHA).json()
    assert mine["entries"] == PARTY and mine["version"] == made.json()["version"]
    assert [g["name"] for g in client.get("/glossaries", headers=ALPHA).json()["glossaries"]] == ["desk"]
    assert client.delete("/glossaries/desk", headers=ALPHA).status_code == 204
    assert_error(client.get("/glossaries/desk", headers=ALPHA), 404, "glossary_not_found")
    assert client.get("/glossaries/desk", headers=BETA).json()["entries"][0]["target"] == "Congress"


def test_a_new_version_replaces_the_glossary(clean):
    first = put(clean, "desk", PARTY).json()
    second = put(clean, "desk", PARTY[:1]).json()
    assert second["version"] != first["version"] and second["entry_count"] == 1
    assert put(clean, "desk", PARTY[:1]).json()["version"] == second["version"]  # the same entries, the same version


# --- bounds and malformed glossaries ----------------------------------------------------------------------------------
def entries(n, start=0):
    return [{"source": f"शब्द{'क' * (i + start)}", "target": f"word{i + start}"} for i in range(n)]


@pytest.mark.parametrize("name, send, status, code, words", [
    ("entries", lambda c: put(c, "g", entries(6)), 413, "glossary_too_large", ("6", "SUMMARIZER_MAX_GLOSSARY_ENTRIES")),
    ("bytes", lambda c: c.put("/glossaries/g", content=("भाजपा,BJP\n" * 200).encode(),
                              headers=ALPHA | {"Content-Type": "text/csv"}), 413, "glossary_too_large",
     ("SUMMARIZER_MAX_GLOSSARY_BYTES",)),
    ("term chars", lambda c: put(c, "g", [{"source": "भाजपा", "target": "B" * 41}]), 413, "glossary_too_large",
     ("41", "SUMMARIZER_MAX_GLOSSARY_TERM_CHARS")),
    ("inline entries", lambda c: c.post("/summarize", json={"text": "भाजपा की बैठक।", "options": {
        "glossary_entries": entries(4)}}, headers=ALPHA), 413, "glossary_too_large",
     ("SUMMARIZER_MAX_INLINE_GLOSSARY_ENTRIES",)),
    ("inline on /translate", lambda c: c.post("/translate", json={"text": "भाजपा की बैठक।", "glossary_entries":
                                                                  entries(4)}, headers=ALPHA), 413,
     "glossary_too_large", ()),
    ("a spelling variant of a source again", lambda c: put(c, "g", [{"source": "ज़िला", "target": "district"},
                                                                     {"source": "जिला", "target": "zila"}]),
     422, "invalid_glossary", ("entry 2",)),
    ("control character", lambda c: put(c, "g", [{"source": "भा\u0085जपा", "target": "BJP"}]), 422,
     "invalid_glossary", ("U+0085",)),
    ("line break inside", lambda c: put(c, "g", [{"source": "भाजपा", "target": "B\nJP"}]), 422, "invalid_glossary", ()),
    ("no word", lambda c: put(c, "g", [{"source": "।।", "target": "BJP"}]), 422, "invalid_glossary", ("no word",)),
    ("empty target", lambda c: put(c, "g", [{"source": "भाजपा", "target": "  "}]), 422, "invalid_glossary", ()),
    ("three columns", lambda c: c.put("/glossaries/g", content="भाजपा,BJP,x\n".encode(),
                                      headers=ALPHA | {"Content-Type": "text/csv"}), 422, "invalid_glossary",
     ("row 1", "3 columns")),
    ("one column", lambda c: c.put("/glossaries/g", content="भाजपा BJP\n".encode(),
                                   headers=ALPHA | {"Content-Type": "text/tab-separated-values"}), 422,
     "invalid_glossary", ("row 1",)),
    ("open quote", lambda c: c.put("/glossaries/g", content='भाजपा,"BJP\n'.encode(),
                                   headers=ALPHA | {"Content-Type": "text/csv"}), 422, "invalid_glossary", ()),
    ("not UTF-8", lambda c: c.put("/glossaries/g", content=b"\xff\xfe,BJP\n", headers=ALPHA | {
        "Content-Type": "text/csv"}), 422, "invalid_glossary", ("UTF-8",)),
    ("missing target", lambda c: c.put("/glossaries/g", json={"entries": [{"source": "भाजपा"}]}, headers=ALPHA), 422,
     "invalid_glossary", ("target",)),
    ("not a list", lambda c: c.put("/glossaries/g", json={"entries": "भाजपा=BJP"}, headers=ALPHA), 422,
     "invalid_glossary", ()),
    ("deeply nested", lambda c: c.put("/glossaries/g", content=b'{"entries": ' + b"[" * 900 + b"]" * 900 + b"}",
                                      headers=ALPHA | {"Content-Type": "application/json"}), 422, "invalid_glossary",
     ()),
    ("malformed JSON", lambda c: c.put("/glossaries/g", content=b'{"entries": [', headers=ALPHA | {
        "Content-Type": "application/json"}), 422, "invalid_glossary", ()),
    ("a name with a space", lambda c: put(c, "a b", PARTY), 422, "invalid_request", ()),
    ("a name too long", lambda c: put(c, "g" * 65, PARTY), 422, "invalid_request", ()),
    ("a bad name in options", lambda c: c.post("/summarize", json={"text": "भाजपा।", "options": {
        "glossary": "../x"}}, headers=ALPHA), 422, "invalid_request", ("glossary",)),
    ("both forms", lambda c: c.post("/translate", json={"text": "भाजपा।", "glossary": "g", "glossary_entries": PARTY},
                                    headers=ALPHA), 422, "invalid_request", ("not both",)),
    ("another media type", lambda c: c.put("/glossaries/g", content=b"<x/>", headers=ALPHA | {
        "Content-Type": "application/xml"}), 415, "unsupported_media_type", ("text/csv",)),
    ("a table to /summarize", lambda c: c.post("/summarize", content="भाजपा,BJP".encode(), headers=ALPHA | {
        "Content-Type": "text/csv"}), 415, "unsupported_media_type", ()),
])  # fmt: skip
def test_glossaries_are_bounded_and_checked(clean, name, send, status, code, words):
    assert_error(send(clean), status, code, *words)
    assert clean.get("/glossaries", headers=ALPHA).json() == {"glossaries": []}  # nothing was kept


def test_a_key_keeps_at_most_its_number_of_glossaries(clean):
    for n in range(3):
        assert put(clean, f"g{n}", PARTY).status_code == 200
    assert_error(put(clean, "g3", PARTY), 409, "too_many_glossaries", "SUMMARIZER_MAX_GLOSSARIES_PER_KEY")
    assert put(clean, "g1", PARTY[:1]).status_code == 200  # replacing one is not one more
    assert put(clean, "g0", PARTY, headers=BETA).status_code == 200  # the bound is per key


def test_csv_and_tsv_tables_as_deepl_and_google_take_them(clean):
    csv = 'source,target\nभाजपा,BJP\n"लोक सभा","Lok Sabha, the lower house"\n\nआप,AAP,hi,en\n'
    made = clean.put("/glossaries/table", content=csv.encode(), headers=ALPHA | {"Content-Type": "text/csv"})
    assert made.status_code == 200, made.text
    got = clean.get("/glossaries/table", headers=ALPHA).json()["entries"]
    assert got == [{"source": "भाजपा", "target": "BJP"}, {"source": "लोक सभा", "target": "Lok Sabha, the lower house"},
                   {"source": "आप", "target": "AAP"}]  # fmt: skip
    tsv = "\ufeffभाजपा\tBJP\r\nविधायक\tMLA\r\n"  # a byte-order mark and Windows line ends
    clean.put("/glossaries/table", content=tsv.encode(), headers=ALPHA | {"Content-Type": "text/tab-separated-values"})
    assert clean.get("/glossaries/table", headers=ALPHA).json()["entries"] == PARTY


# --- matching: longest first, on Devanagari word boundaries ---------------------------------------------------------------
def test_terms_longest_first_on_devanagari_word_boundaries():
    glossary = Glossary([("भारत", "India"), ("भारतीय जनता पार्टी", "BJP"), ("पार्टी", "party"), ("ज़िला", "district"),
                         ("जी२०", "G20")])  # fmt: skip
    text = "भारतीय जनता पार्टी ने भारत में, भारतीय टीम और भारतवर्ष के जिला-पार्टी दफ्तर में जी20 बैठक की।"
    prepared = preprocess(text, glossary=glossary)
    assert prepared.terms == {"BJP": "भारतीय जनता पार्टी", "India": "भारत", "district": "जिला", "party": "पार्टी",
                              "G20": "जी20"}  # fmt: skip
    line = prepared.text
    assert line.count("< ID") == 5 and "भारतीय टीम" in line and "भारतवर्ष" in line  # no term inside a word
    assert line.startswith("hin_Deva eng_Latn < ID1 > ने < ID2 > में")  # the long term whole, postpositions apart
    english, put_back = restore("<ID1> and <ID2> , <ID3> <ID4> <ID5> .", prepared.placeholders)
    assert english == "BJP and India, district party G20." and put_back == {"BJP", "India", "district", "party", "G20"}


def test_a_target_is_never_read_as_another_placeholder():
    glossary = Glossary([("भाजपा", "<ID2> party"), ("कांग्रेस", "Congress")])
    prepared = preprocess("भाजपा और कांग्रेस", glossary=glossary)
    assert restore("<ID1> and <ID2>", prepared.placeholders)[0] == "<ID2> party and Congress"


def test_entities_keep_their_placeholders_beside_the_terms():
    prepared = preprocess("भाजपा ने https://bjp.org/x पर 12.05.2024 को लिखा।", glossary=Glossary([("भाजपा", "BJP")]))
    english, _ = restore("<ID1> wrote on <ID2> on <ID3> .", prepared.placeholders)
    assert english == "BJP wrote on https://bjp.org/x on 12.05.2024."


# --- enforcement through the service -------------------------------------------------------------------------------------
def test_targets_come_back_in_text_and_html_translations(clean, echo):
    echo()
    put(clean, "desk", PARTY)
    body = {"text": "भाजपा विधायक ने कहा।", "glossary": "desk", "cache": False}  # the double's answers are not kept
    text = clean.post("/translate", json=body, headers=ALPHA).json()
    assert text["translation"] == "BJP MLA said."
    assert not [f for f in text["meta"]["checks"] if f["check"] == "glossary"]
    html = "<p>सभा में <b>भाजपा</b> के <a href='/mla'>विधायक</a> थे।</p><p>भारत जीता।</p>"
    body = {"text": html, "format": "html", "glossary_entries": PARTY, "cache": False}
    out = clean.post("/translate", json=body, headers=ALPHA)
    assert out.status_code == 200, out.text
    assert "<b>BJP said.</b>" in out.json()["html"] and '<a href="/mla">MLA said.</a>' in out.json()["html"]
    options = {"format": "html", "glossary": "desk", "summary_languages": [], "cache": False}
    summarized = clean.post("/summarize", json={"text": html, "options": options}, headers=ALPHA)
    assert "<b>BJP said.</b>" in summarized.json()["translation"]["html"]


def test_the_english_summary_keeps_the_glossary_too(clean, echo):
    echo(summary="भाजपा विधायक ने बैठक की।")
    put(clean, "desk", PARTY)
    body = {"text": "भाजपा के विधायक ने आज बैठक की।", "options": {"glossary": "desk", "translate": False, "cache": False}}
    result = clean.post("/summarize", json=body, headers=ALPHA).json()
    assert result["summary"] == {"hi": "भाजपा विधायक ने बैठक की।", "en": "BJP MLA said."}
    assert not [f for f in result["meta"]["checks"] if f["check"] == "glossary"]


def test_a_term_the_model_drops_is_flagged_and_a_mangled_one_repaired(clean, echo):
    echo("drop", summary="भाजपा ने बैठक की।")
    body = {"text": "राज्य में भाजपा ने बैठक की। कल फिर बैठक होगी।", "options": {"glossary_entries": PARTY, "cache": False}}
    result = clean.post("/summarize", json=body, headers=ALPHA).json()
    assert result["translation"]["en"] == "said. said."
    lost = [f for f in result["meta"]["checks"] if f["check"] == "glossary"]
    assert [(f["where"], f["span"], f["text"]) for f in lost] == [("translation.paragraphs[0]", [0, 5], "BJP"),
                                                                  ("summary.en", [0, 5], "BJP")]  # fmt: skip
    assert "dropped" in lost[0]["detail"] and "भाजपा" in lost[0]["detail"]
    assert result["meta"]["review"] == "needs_review"
    echo("mangle", summary="भाजपा ने बैठक की।")
    result = clean.post("/summarize", json=body, headers=ALPHA).json()
    assert result["translation"]["en"] == "BJP said. said." and result["summary"]["en"] == "BJP said."
    assert not [f for f in result["meta"]["checks"] if f["check"] == "glossary"]


def test_the_memory_key_of_a_sentence_with_a_term_includes_the_glossarys_version(clean, echo):
    model = echo()
    with_term, without = "भाजपा ने स्मृति परीक्षण की बैठक की।", "स्मृति परीक्षण का दूसरा वाक्य बिना शब्द के।"

    def translate(text, target):
        body = {"text": text, "glossary_entries": [{"source": "भाजपा", "target": target}]}
        before = model.sentences
        answer = clean.post("/translate", json=body, headers=ALPHA).json()
        return model.sentences - before, answer["translation"]

    assert translate(with_term, "BJP") == (1, "BJP said.")
    assert translate(with_term, "BJP") == (0, "BJP said.")  # the same version: a hit
    assert translate(with_term, "Bharatiya Janata Party") == (1, "Bharatiya Janata Party said.")  # another: a miss
    assert translate(without, "BJP")[0] == 1
    assert translate(without, "Bharatiya Janata Party")[0] == 0  # no term: the glossary does not matter
    pipeline = clean.app.state.runtime.pipeline
    (piece,) = pipeline.translator.prepare([with_term], glossary=Glossary([("भाजपा", "BJP")]))
    keys = {pipeline.memory.key("translation", "key:alpha", "hin_Deva", "eng_Latn", 5, piece.input_ids, *version)
            for version in ([], ["v1"], ["v2"])}  # fmt: skip
    assert len(keys) == 3


# --- checks on every result, and /check -------------------------------------------------------------------------------
def test_every_result_carries_its_checks(clean):
    text = "भाजपा के 5 विधायक दिल्ली पहुंचे।"
    result = clean.post("/summarize", json={"text": text}, headers=ALPHA).json()
    assert result["meta"]["review"] in ("ok", "needs_review")
    assert result["meta"]["review"] == ("needs_review" if result["meta"]["checks"] else "ok")
    for finding in result["meta"]["checks"]:
        assert set(finding) == {"check", "severity", "where", "span", "text", "detail"}
    translated = clean.post("/translate", json={"texts": [text, text]}, headers=ALPHA).json()
    assert all("review" in t["meta"] for t in translated["translations"])
    job = clean.post("/jobs", json={"text": text, "options": {"glossary_entries": PARTY}}, headers=ALPHA).json()
    done = wait_job(clean, job["status_url"], ALPHA)
    assert done["status"] == "done" and done["result"]["meta"]["review"] == "needs_review"  # the tiny model loses BJP
    assert any(f["check"] == "glossary" for f in done["result"]["meta"]["checks"])


def test_check_answers_for_an_editors_own_text(clean):
    put(clean, "desk", PARTY)
    source = "भाजपा के पांच विधायक 15 अगस्त को दिल्ली पहुंचे।"
    good = {"source": source, "translation": "Five BJP MLAs reached Delhi on August 15.",
            "summary": {"en": "Five BJP MLAs reached Delhi."}, "glossary": "desk"}  # fmt: skip
    assert clean.post("/check", json=good, headers=ALPHA).json() == {"checks": [], "review": "ok"}
    wrong = good | {"translation": "Six BJP legislators reached Delhi on August 15."}
    found = clean.post("/check", json=wrong, headers=ALPHA).json()
    assert found["review"] == "needs_review"
    assert {(f["check"], f["text"]) for f in found["checks"]} == {("number", "Six"), ("glossary", "MLA")}


@pytest.mark.parametrize("body, status, code, words", [
    ({"source": "क" * 20_001, "translation": "x"}, 413, "article_too_long", ("source",)),
    ({"source": "भाजपा", "translation": "x" * 501}, 413, "article_too_long", ("SUMMARIZER_MAX_CHECK_CHARS",)),
    ({"source": "भाजपा", "summary": {"hi": "क" * 501}}, 413, "article_too_long", ("summary.hi",)),
    ({"source": "", "translation": "x"}, 422, "invalid_request", ()),
    ({"source": "भाजपा", "summary": {"fr": "x"}}, 422, "invalid_request", ()),
    ('{"source": "भाजपा", "translation": "\\ud800"}', 422, "invalid_request", ("surrogate",)),
])  # fmt: skip
def test_check_is_bounded_like_the_other_endpoints(clean, body, status, code, words):
    sent = {"content": body.encode(), "headers": ALPHA | {"Content-Type": "application/json"}} if isinstance(body, str) \
        else {"json": body, "headers": ALPHA}  # fmt: skip
    assert_error(clean.post("/check", **sent), status, code, *words)


def test_a_result_lists_at_most_its_number_of_findings(clean):
    rooms = ", ".join(str(n) for n in range(100, 116))  # 16 figures the article lacks
    body = {"source": "बैठक में 5 लोग थे।", "translation": f"Rooms {rooms} and 5 people were there."}
    found = clean.post("/check", json=body, headers=ALPHA).json()
    assert found["review"] == "needs_review" and len(found["checks"]) == 13
    assert [f["check"] for f in found["checks"]] == ["number"] * 12 + ["more"]
    assert found["checks"][-1]["detail"].startswith("4 more findings") and "SUMMARIZER_MAX_FINDINGS" in \
        found["checks"][-1]["detail"]  # fmt: skip


def test_drop_removes_a_summary_sentence_with_a_figure_the_article_lacks(clean, echo):
    model = echo(summary="भाजपा ने 5 लोगों से बात की। भाजपा के 99 नेता आए।")
    text = "भाजपा ने आज 5 लोगों से बात की।"
    flagged = clean.post("/summarize", json={"text": text, "options": {"cache": False}}, headers=ALPHA).json()
    assert flagged["summary"]["hi"] == "भाजपा ने 5 लोगों से बात की। भाजपा के 99 नेता आए।"
    assert ("number", "summary.hi", "99") in {(f["check"], f["where"], f["text"]) for f in flagged["meta"]["checks"]}
    before = model.sentences
    body = {"text": text, "options": {"on_unsupported": "drop", "translate": False, "cache": False}}
    dropped = clean.post("/summarize", json=body, headers=ALPHA).json()
    assert dropped["summary"]["hi"] == "भाजपा ने 5 लोगों से बात की।"
    assert model.sentences - before == 1  # the English summary is the translation of what is left
    (finding,) = [f for f in dropped["meta"]["checks"] if f["where"] == "summary.hi"]
    assert finding["check"] == "number" and "removed the sentence: «भाजपा के 99 नेता आए।»" in finding["detail"]
    assert finding["span"] == [len(dropped["summary"]["hi"])] * 2


def test_the_checks_run_off_the_event_loop(clean, monkeypatch):
    threads = []
    real = review.run_checks

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(review, "run_checks", recorded)
    text = "भाजपा की बैठक हुई।"
    for path, body in (("/summarize", {"text": text, "options": {"on_unsupported": "drop"}}),
                       ("/translate", {"text": f"<p>{text}</p>", "format": "html"}),
                       ("/check", {"source": text, "translation": "The BJP met."})):  # fmt: skip
        assert clean.post(path, json=body, headers=ALPHA).status_code == 200
    assert len(threads) == 4 and all(name.startswith("text") for name in threads), threads


def test_a_fault_of_the_checks_never_costs_the_article(clean, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(review, "run_checks", broken)
    result = clean.post("/summarize", json={"text": "भाजपा की बैठक हुई।"}, headers=ALPHA)
    assert result.status_code == 200 and result.json()["translation"]["en"]
    assert [f["check"] for f in result.json()["meta"]["checks"]] == ["unchecked"]


# --- stores ----------------------------------------------------------------------------------------------------------
def no_models():
    raise RuntimeError("this test loads no models")


def test_glossaries_live_in_redis_when_the_memory_is_shared(settings_factory, tmp_path):
    port = free_port()
    process, redis_client = start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    keys = [{"key": "alpha-glossary-key", "name": "alpha"}, {"key": "beta-glossary-key", "name": "beta"}]
    try:
        # No models: the glossaries need none, and two loads at once in one process race on torch's meta device.
        settings = settings_factory(api_keys=keys, cache_url=url, max_glossaries_per_key=2)
        apps = [TestClient(create_app(settings, runtime_factory=no_models)) for _ in range(2)]
        with apps[0] as one, apps[1] as other:  # two replicas
            assert put(one, "desk", PARTY).status_code == 200
            assert other.get("/glossaries/desk", headers=ALPHA).json()["entries"] == PARTY
            assert_error(other.get("/glossaries/desk", headers=BETA), 404, "glossary_not_found")
            assert put(other, "second", PARTY).status_code == 200
            assert_error(put(one, "third", PARTY), 409, "too_many_glossaries")
            assert [g["name"] for g in one.get("/glossaries", headers=ALPHA).json()["glossaries"]] == ["desk", "second"]
            assert other.delete("/glossaries/desk", headers=ALPHA).status_code == 204
            assert_error(one.get("/glossaries/desk", headers=ALPHA), 404, "glossary_not_found")
            assert all(redis_client.ttl(k) == -1 for k in redis_client.scan_iter("summarizer:glossaries:*"))
            process.kill()
            process.wait()
            assert_error(one.get("/glossaries", headers=ALPHA), 503, "glossaries_unavailable")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_broken_sqlite_file_fails_its_calls_not_the_service(settings_factory, tmp_path):
    path = tmp_path / "glossaries.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with TestClient(create_app(settings_factory(glossaries_db=str(path)))) as client:
        wait_ready(client)
        assert_error(client.get("/glossaries"), 503, "glossaries_unavailable")
        assert client.post("/summarize", json={"text": "भाजपा की बैठक।"}).status_code == 200  # no glossary asked
        path.unlink()
        assert put(client, "desk", PARTY, headers={}).status_code == 200  # opened again at the next call


# --- linear time -----------------------------------------------------------------------------------------------------
LIMITS_OF_TESTS = Limits(entries=10**6, body_bytes=10**9, term_chars=10**6, per_key=1, inline_entries=10**6)
# The worst glossary for a text of one repeated word: many long terms that all start with it.
HOSTILE = Glossary([(" ".join(["क"] * 39 + [f"ख{'ग' * i}"]), f"t{i}") for i in range(1000)] + [("क", "k")])
GLOSSARY_FAMILIES = {
    **FAMILIES,
    "one word again": lambda n: ("क " * n)[:n],
    "a term again": lambda n: ("भारतीय जनता पार्टी " * n)[:n],
    "mangled placeholders": lambda n: ("< ID 1 > (ID2) " * n)[:n],
    "table cells": lambda n: ('"a,b",c\n' * n)[:n],
}
FUNCTIONS = {
    "Glossary.matches": HOSTILE.matches,
    "preprocess with a glossary": lambda text: preprocess(text, glossary=HOSTILE),
    "restore": lambda text: restore(text, preprocess("<ID> क https://a.org ख", glossary=HOSTILE).placeholders),
    "parse_table": lambda text: refused_or(parse_table, text, ","),
    "check_entries": lambda text: refused_or(check_entries, [(text, "t")], LIMITS_OF_TESTS, 1, "X"),
    "lost_findings": lambda text: review.lost_findings([LostTerm(w, "क", "k") for w in text.split()[:2000]],
                                                        [("translation", text)]),
}


def refused_or(function, *args):
    try:
        return function(*args)
    except InvalidRequest as refusal:  # a row of the wrong shape or a term with no word, found in the same pass
        return refusal


@pytest.mark.parametrize("family", GLOSSARY_FAMILIES)
def test_glossary_handling_is_linear(family):
    for name, function in FUNCTIONS.items():
        assert_linear(name, function, family, 20_000, 4.0, make=GLOSSARY_FAMILIES[family])


def test_the_store_is_sqlite_through_the_services_own_opener(tmp_path, monkeypatch):
    import service.glossaries as module

    opened = []
    monkeypatch.setattr(module, "connect", lambda *args: opened.append(args) or __import__("sqlite3").connect(args[0]))
    store = SqliteGlossaries(tmp_path / "g.sqlite3", 2.0)
    store.put("key:alpha", "desk", (("भाजपा", "BJP"),), 3)
    assert opened and opened[0][0] == tmp_path / "g.sqlite3"
    store.close()
