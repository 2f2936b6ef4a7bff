"""The quality harness: its metrics on known cases, and a run of the service over a small reference file."""

import json
import subprocess
import sys

import pytest

from service.evaluate import UnicodeWords, chrf_plus_plus, rouge

from .conftest import ROOT, SHARED, service_env


def test_metrics_on_known_cases():
    assert chrf_plus_plus(["the minister met farmers"], ["the minister met farmers"]) == 100.0
    assert chrf_plus_plus(["xyz"], ["the minister met farmers"]) < 5
    same = rouge(["भाजपा ने आज बैठक की"], ["भाजपा ने आज बैठक की"])
    assert same == {"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0}
    half = rouge(["भाजपा ने बैठक"], ["भाजपा ने आज बैठक की"])
    assert half["rouge1"] == pytest.approx(100 * 2 * (3 / 3) * (3 / 5) / (3 / 3 + 3 / 5), abs=0.01)
    assert rouge(["कांग्रेस"], ["भाजपा"]) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


def test_devanagari_words_keep_their_vowel_signs():
    assert UnicodeWords().tokenize("प्रधानमंत्री ने, आज (2024) कहा!") == ["प्रधानमंत्री", "ने", "आज", "2024", "कहा"]


def test_evaluate_command_reports_both_metrics(tiny_models, tmp_path):
    lines = (SHARED / "corpus" / "hindi_news.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    refs = tmp_path / "refs.jsonl"
    with refs.open("w", encoding="utf-8") as out:
        for i, line in enumerate(lines):
            text = json.loads(line)["text"]
            item = {"id": f"p{i}", "text": text, "reference_en": "The party held a meeting today.",
                    "reference_summary_hi": text.split("।")[0]}  # fmt: skip
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    env = service_env(translation_model=tiny_models / "indictrans2", summarization_model=tiny_models / "mt5",
                      translation_max_new_tokens=8, models_dir=tmp_path / "store", offline="true", warmup="false")  # fmt: skip
    report_path = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "service", "evaluate", str(refs), "-o", str(report_path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["translation"]["count"] == 3 and 0 <= report["translation"]["chrf++"] <= 100
    assert report["summary_hi"]["count"] == 3 and set(report["summary_hi"]) == {"count", "rouge1", "rouge2", "rougeL"}
    assert report["backends"] == {"translation": "ctranslate2", "summarization": "torch"}  # the defaults on a CPU
    assert report["dtypes"] == {"translation": "ctranslate2-int8", "summarization": "float32"}
