"""Quality of the configured models and backend on a reference file: ``python -m service evaluate REFS.jsonl``.

Each line: ``{"id"?, "text", "reference_en"?, "reference_summary_hi"?}``. The service's own pipeline translates the
lines that have ``reference_en`` and summarizes those that have ``reference_summary_hi``; the report gives chrF++
(sacrebleu: character 6-grams and word 2-grams, as FLORES-200 results are reported for IndicTrans2) and ROUGE-1/2/L
F-measures ×100 (rouge-score, with a tokenizer that keeps Devanagari: rouge-score's own keeps only a–z and 0–9, so it
would score Hindi as empty; XL-Sum's published figures come from its multilingual fork of the same scorer, which
also stems, so compare like with like). Protocol for the real weights: docs/OPERATIONS.md, "Quality".
"""

import asyncio
import json
import time
from pathlib import Path

import regex
import sacrebleu
from rouge_score import rouge_scorer

from .config import Settings, backend_of
from .pipeline import JobOptions

_NOT_WORD = regex.compile(r"[^\p{L}\p{M}\p{N}]+")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


class UnicodeWords:
    """Lower-cased runs of letters, marks and digits of any script (a Devanagari word keeps its vowel signs)."""

    def tokenize(self, text: str) -> list[str]:
        return [word for word in _NOT_WORD.split(text.lower()) if word]


def chrf_plus_plus(hypotheses: list[str], references: list[str]) -> float:
    return round(sacrebleu.corpus_chrf(hypotheses, [references], word_order=2).score, 2)


def rouge(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Mean F-measure ×100 of each ROUGE type over the pairs."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=UnicodeWords())
    scores = [scorer.score(reference, hypothesis) for hypothesis, reference in zip(hypotheses, references, strict=True)]
    return {kind: round(100 * sum(s[kind].fmeasure for s in scores) / len(scores), 2) for kind in ROUGE_TYPES}


def evaluate(refs_path: Path, settings: Settings) -> dict:
    from .runtime import build_runtime

    items = [json.loads(line) for line in refs_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    runtime = build_runtime(settings)
    started = time.perf_counter()
    translations, summaries = [], []

    async def run_all():
        for number, item in enumerate(items, start=1):
            wants_summary = "reference_summary_hi" in item
            if not wants_summary and "reference_en" not in item:
                continue
            options = JobOptions(translate="reference_en" in item, summary_languages=("hi",) if wants_summary else (),
                                 source_langs=("hin_Deva",))  # the references are Hindi articles
            [result] = await runtime.pipeline.process([(str(item.get("id", number)), item["text"])], options)
            if "reference_en" in item:
                translations.append((result.translation_en, item["reference_en"]))
            if wants_summary:
                summaries.append((result.summaries["hi"], item["reference_summary_hi"]))

    try:
        asyncio.run(run_all())
    finally:
        runtime.close()
    report = {
        "references": str(refs_path),
        "models": runtime.model_info(),
        "device": str(runtime.device),
        "dtypes": runtime.dtypes,
        "backends": {kind: backend_of(dtype) for kind, dtype in runtime.dtypes.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    if translations:
        report["translation"] = {"count": len(translations), "chrf++": chrf_plus_plus(*map(list, zip(*translations)))}
    if summaries:
        report["summary_hi"] = {"count": len(summaries), **rouge(*map(list, zip(*summaries)))}
    return report
