"""CTranslate2 copies of the models decode to the same tokens as ``model.generate`` (float32, CPU)."""

import json
from contextlib import contextmanager

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM

import service.translation  # noqa: F401 - registers model_type "IndicTrans"
from service.engine import ct2_convert
from service.translation.tokenizer import IndicTransTokenizer

from .conftest import FIXTURES, SHARED

STYLES = ["parity_dist200m_style", "parity_1b_style"]


def corpus_sentences(count: int) -> list[str]:
    lines = (SHARED / "corpus" / "hindi_news.jsonl").read_text(encoding="utf-8").splitlines()
    sentences = [s.strip() + "।" for line in lines for s in json.loads(line)["text"].split("।") if len(s.strip()) > 20]
    return sentences[:count]


def ct2_ids(results, vocab: dict[str, int]) -> list[list[int]]:
    return [[vocab[token] for token in result.hypotheses[0]] for result in results]


def generated_ids(output: torch.Tensor, eos: int, pad: int) -> list[list[int]]:
    """generate's rows without the decoder start, the final </s> and padding: what CTranslate2 returns."""
    return [[i for i in row[1:] if i not in (eos, pad)] for row in output.tolist()]


@pytest.fixture(scope="module")
def indictrans_ct2(runtime, tiny_models, tmp_path_factory):
    """The copy converted from the checkpoint (as ``ensure_copy`` does); the reference is the runtime's torch model,
    whose CPU layers are packed for oneDNN."""
    translator = runtime.pipeline.translator
    published = AutoModelForSeq2SeqLM.from_pretrained(tiny_models / "indictrans2").eval()
    path = ct2_convert.save(ct2_convert.indictrans_spec(published, translator.tokenizer),
                            tmp_path_factory.mktemp("ct2") / "indictrans2")  # fmt: skip
    return translator, ct2_convert.load(path)


@pytest.mark.parametrize("beams", [1, 5])
def test_indictrans2_tokens_equal_generate(indictrans_ct2, beams):
    translator, ct2 = indictrans_ct2
    tokenizer = translator.tokenizer
    pieces = translator.prepare(corpus_sentences(16))
    source_tokens = ct2_convert.tokens_of(tokenizer.src_vocab)
    rows = [p.input_ids for p in pieces]
    results = ct2.translate_batch(
        [[source_tokens[i] for i in row] for row in rows], beam_size=beams, max_decoding_length=12,
        min_decoding_length=0, length_penalty=1.0,
    )  # fmt: skip
    reference = translator.generate_ids(rows, num_beams=beams, max_new_tokens=12)
    expected = generated_ids(reference, tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert ct2_ids(results, tokenizer.tgt_vocab) == expected


@pytest.mark.parametrize("style", STYLES)
def test_official_checkpoints_convert_to_the_upstream_outputs(style, tmp_path):
    model = AutoModelForSeq2SeqLM.from_pretrained(FIXTURES / style).eval()
    tokenizer = IndicTransTokenizer(FIXTURES / "tokenizer")
    ct2 = ct2_convert.load(ct2_convert.save(ct2_convert.indictrans_spec(model, tokenizer), tmp_path / "ct2"))
    ref = load_file(FIXTURES / style / "reference_outputs.safetensors")
    source_tokens = ct2_convert.tokens_of(tokenizer.src_vocab)
    masks = ref["attention_mask"].tolist()
    rows = [[i for i, m in zip(ids, mask) if m] for ids, mask in zip(ref["input_ids"].tolist(), masks)]
    batch = [[source_tokens[i] for i in row] for row in rows]
    greedy = ct2.translate_batch(batch, beam_size=1, max_decoding_length=12, min_decoding_length=12)
    assert ct2_ids(greedy, tokenizer.tgt_vocab) == [row[1:] for row in ref["greedy_ids"].tolist()]
    beam = ct2.translate_batch(batch, beam_size=4, max_decoding_length=12, min_decoding_length=0)
    expected = generated_ids(ref["beam4_ids"], tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert ct2_ids(beam, tokenizer.tgt_vocab) == expected


@pytest.fixture(scope="module")
def mt5_ct2(runtime, tiny_models, tmp_path_factory):
    summarizer = runtime.pipeline.summarizer
    published = AutoModelForSeq2SeqLM.from_pretrained(tiny_models / "mt5").eval()
    spec = ct2_convert.mt5_spec(published, tiny_models / "mt5" / "spiece.model")
    return summarizer, ct2_convert.load(ct2_convert.save(spec, tmp_path_factory.mktemp("ct2") / "mt5"))


@pytest.mark.parametrize("beams", [1, 4])
def test_mt5_tokens_equal_generate_without_ngram_bans(mt5_ct2, beams):
    summarizer, ct2 = mt5_ct2
    sp = summarizer.tokenizer.sp
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    rows = [summarizer.prepare(text).rows[0] for text in corpus_sentences(8)]
    results = ct2.translate_batch(
        [[pieces[i] for i in row] for row in rows], beam_size=beams, max_decoding_length=16, min_decoding_length=0,
        length_penalty=0.6,
    )  # fmt: skip
    reference = summarizer.generate_ids(rows, num_beams=beams, max_length=17, no_repeat_ngram_size=0)
    expected = generated_ids(reference, summarizer.tokenizer.eos_token_id, summarizer.tokenizer.pad_token_id)
    assert [[sp.piece_to_id(t) for t in r.hypotheses[0]] for r in results] == expected


def test_mt5_greedy_with_the_cards_ngram_ban_equals_generate(mt5_ct2):
    """Greedy is unaffected by where the ban is applied. With beams it is not: CTranslate2 bans repeated 2-grams
    before its log-softmax (the rest renormalized), transformers after it, so beam rankings can differ (see
    docs/OPERATIONS.md); the quality runner decides that backend for mT5 on real weights."""
    summarizer, ct2 = mt5_ct2
    sp = summarizer.tokenizer.sp
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    rows = [summarizer.prepare(text).rows[0] for text in corpus_sentences(8)]
    results = ct2.translate_batch([[pieces[i] for i in row] for row in rows], beam_size=1, max_decoding_length=16,
                                  min_decoding_length=0, no_repeat_ngram_size=2)  # fmt: skip
    reference = summarizer.generate_ids(rows, num_beams=1, max_length=17, no_repeat_ngram_size=2)
    expected = generated_ids(reference, summarizer.tokenizer.eos_token_id, summarizer.tokenizer.pad_token_id)
    assert [[sp.piece_to_id(t) for t in r.hypotheses[0]] for r in results] == expected


def test_convert_models_makes_each_copy_once_and_again_when_its_source_changes(tiny_models, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    from .conftest import ROOT, service_env

    for name in ("indictrans2", "mt5"):
        shutil.copytree(tiny_models / name, tmp_path / name)
    env = service_env(translation_model=tmp_path / "indictrans2", summarization_model=tmp_path / "mt5",
                      models_dir=tmp_path / "store", offline="true", device="cpu")  # fmt: skip

    def convert() -> str:
        done = subprocess.run([sys.executable, "-m", "service", "convert-models"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert convert().count("(converted)") == 2
    copies = sorted((tmp_path / "store" / "local").glob("*/ct2-int8"))  # auto on a CPU: stored as int8
    assert len(copies) == 2 and all((c / "model.bin").is_file() and (c / "CONVERTED.json").is_file() for c in copies)
    assert convert().count("(up to date)") == 2
    weights = next(p for p in (tmp_path / "mt5").iterdir() if p.suffix in (".safetensors", ".bin"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    again = convert()
    assert "summarization" in again.split("(converted)")[0] and again.count("(up to date)") == 1


@pytest.mark.parametrize("beams", [1, 5])
def test_service_on_the_ctranslate2_backend_translates_as_on_torch(settings_factory, tmp_path, beams):
    from fastapi.testclient import TestClient

    from service.api import create_app

    from .conftest import SEED_TEXT, wait_ready

    settings = settings_factory(translation_backend="ctranslate2", ct2_compute_type="float32",
                                models_dir=str(tmp_path / "store"))  # fmt: skip
    body = {"texts": [SEED_TEXT, *corpus_sentences(6)], "num_beams": beams}
    with TestClient(create_app(settings)) as ct2_client:
        wait_ready(ct2_client)
        on_ct2 = ct2_client.post("/translate", json=body)
        info = ct2_client.get("/info").json()
    with torch_reference(settings_factory) as torch_client:
        on_torch = torch_client.post("/translate", json=body)
    assert on_ct2.status_code == on_torch.status_code == 200
    assert on_ct2.json()["translations"] == on_torch.json()["translations"]
    assert info["dtype"]["translation"] == "ctranslate2-float32"
    assert list((tmp_path / "store" / "local").glob("*/ct2-float32/model.bin"))  # the copy was made in the store


@contextmanager
def torch_reference(settings_factory):
    """A client of both models on torch float32 with torch's own CPU kernels: oneDNN's packed layers round otherwise,
    and a tiny random model's near-ties turn that into other tokens (the default client runs CTranslate2 int8)."""
    from fastapi.testclient import TestClient

    from service.api import create_app

    from .conftest import wait_ready

    with TestClient(create_app(settings_factory(translation_backend="torch", cpu_gemm="default"))) as client:
        wait_ready(client)
        assert client.get("/info").json()["dtype"] == {"translation": "float32", "summarization": "float32"}
        yield client


def test_service_on_ctranslate2_for_both_models_summarizes_as_on_torch_greedy(settings_factory, tmp_path):
    from fastapi.testclient import TestClient

    from service.api import create_app

    from .conftest import SEED_TEXT, wait_ready

    settings = settings_factory(translation_backend="ctranslate2", summary_backend="ctranslate2",
                                ct2_compute_type="float32", models_dir=str(tmp_path / "store"))  # fmt: skip
    body = {"articles": [{"id": "seed", "text": SEED_TEXT}, {"id": "brief", "text": corpus_sentences(1)[0]}],
            "options": {"summary_num_beams": 1, "translation_num_beams": 1}}  # fmt: skip
    with TestClient(create_app(settings)) as ct2_client:
        wait_ready(ct2_client)
        on_ct2 = ct2_client.post("/summarize", json=body).json()["results"]
    with torch_reference(settings_factory) as torch_client:
        on_torch = torch_client.post("/summarize", json=body).json()["results"]
    assert [r["summary"] for r in on_ct2] == [r["summary"] for r in on_torch]
    assert [r["translation"] for r in on_ct2] == [r["translation"] for r in on_torch]
    assert on_ct2[0]["meta"]["dtype"] == {"translation": "ctranslate2-float32", "summarization": "ctranslate2-float32"}


def test_the_default_backend_falls_back_to_torch_where_no_copy_can_be_made(settings_factory, tmp_path, caplog):
    """A read-only model store: the default (CTranslate2) warns and decodes with torch; asked for by name, it is a
    start-up error."""
    from service.runtime import load_models, resolve_sources

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = settings_factory(models_dir=str(blocker / "store"))
    with caplog.at_level("WARNING", logger="service.runtime"):
        models = load_models(settings, resolve_sources(settings))
    assert models.dtypes["translation"] == "float32" and models.translator.model is not None
    assert "decoding it with torch" in caplog.text
    explicit = settings_factory(models_dir=str(blocker / "store"), translation_backend="ctranslate2")
    with pytest.raises(OSError):
        load_models(explicit, resolve_sources(explicit))


# --- the compute type of each model ---------------------------------------------------------------------------------
@pytest.mark.parametrize("device,kind,bfloat16,expected", [
    ("cpu", "translation", False, "int8"), ("cpu", "summarization", False, "int8"),
    ("cuda", "translation", True, "float16"), ("cuda:1", "translation", False, "float16"),
    ("cuda", "summarization", True, "bfloat16"),  # never float16: published mT5 weights overflow there
    ("cuda:1", "summarization", False, "float32"),  # a GPU without bfloat16 (before Ampere)
])  # fmt: skip
def test_auto_compute_type_per_model(monkeypatch, device, kind, bfloat16, expected):
    asked = []

    def supported(device_type, index=0):
        asked.append((device_type, index))
        return {"float32", "float16", "int8", "int8_float16"} | ({"bfloat16", "int8_bfloat16"} if bfloat16 else set())

    monkeypatch.setattr(ct2_convert.ctranslate2, "get_supported_compute_types", supported)
    assert ct2_convert.resolve_compute_type("auto", device, kind) == expected
    assert asked in ([], [("cuda", 1 if device == "cuda:1" else 0)])


@pytest.mark.parametrize("setting", ["float16", "int8_float16"])
def test_mt5_asked_for_in_float16_on_a_gpu_is_warned_about(setting, caplog):
    with caplog.at_level("WARNING", logger="service.engine.ct2_convert"):
        assert ct2_convert.resolve_compute_type(setting, "cuda", "summarization") == setting
    assert f"SUMMARIZER_CT2_COMPUTE_TYPE={setting}" in caplog.text and "overflow" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="service.engine.ct2_convert"):
        for device, kind, compute_type in [("cuda", "translation", setting), ("cpu", "summarization", setting),
                                           ("cuda", "summarization", "bfloat16")]:  # fmt: skip
            assert ct2_convert.resolve_compute_type(compute_type, device, kind) == compute_type
    assert caplog.text == ""


def test_each_models_compute_type_shows_in_info_and_in_its_copys_folder(settings_factory, tmp_path, monkeypatch):
    """What the runtime does with a compute type per model (on a GPU, auto gives IndicTrans2 float16 and mT5 bfloat16;
    this CPU has neither, so the choice is stood in for)."""
    from fastapi.testclient import TestClient

    from service.api import create_app

    from .conftest import wait_ready

    per_model = {"translation": "int8", "summarization": "float32"}
    monkeypatch.setattr(ct2_convert, "resolve_compute_type", lambda setting, device, kind: per_model[kind])
    settings = settings_factory(translation_backend="ctranslate2", summary_backend="ctranslate2",
                                models_dir=str(tmp_path / "store"))  # fmt: skip
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        info = client.get("/info").json()
    assert info["dtype"] == {"translation": "ctranslate2-int8", "summarization": "ctranslate2-float32"}
    copies = {p.parent.name.rsplit("-", 1)[0]: p.name for p in (tmp_path / "store" / "local").glob("*/ct2-*")}
    assert copies == {"indictrans2": "ct2-int8", "mt5": "ct2-float32"}
