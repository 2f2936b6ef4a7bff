"""What an editor should know about a result before it is published: the checks (``service.checks``) over its
translation and summaries, the glossary terms the model lost, and ``on_unsupported=drop``. Plain text in, findings
out; the pipeline runs these on its text workers, never on the event loop."""

import logging
from typing import TYPE_CHECKING

from .checks import Finding, Report, drop_unsupported, run_checks
from .text.indic_processing import LostTerm

if TYPE_CHECKING:
    from .glossaries import AppliedGlossary

log = logging.getLogger(__name__)


def _family(where: str) -> str:
    """``translation`` for the translation and its paragraphs, ``summary`` for either summary."""
    return where.split(".")[0]


def lost_findings(lost: list[LostTerm], texts: list[tuple[str, str]]) -> list[Finding]:
    """Each lost term as a ``glossary`` finding on the English sentence that lacks it. ``texts``: (where, text) of
    the output in order; the sentences are found by a forward search, each after the one before, so the output is
    read once. A sentence not found as it is (HTML mode may have changed its spaces) is reported on the whole text
    where the search stands, and the search ends there."""
    if not texts:
        return []
    findings, index, offset = [], 0, 0
    for loss in lost:
        start = min(index, len(texts) - 1)
        while index < len(texts) and (position := texts[index][1].find(loss.english, offset)) < 0:
            index, offset = index + 1, 0
        if index < len(texts):
            (where, _), span, offset = texts[index], (position, position + len(loss.english)), position
        else:
            where, text = texts[start]
            span = (0, len(text))
        detail = f"the glossary renders '{loss.term}' as '{loss.target}'; the model dropped it from this sentence"
        findings.append(Finding("glossary", "error", where, span, loss.target, detail))
    return findings


def _merged(findings: list[Finding], losses: list[Finding]) -> list[Finding]:
    """The checks' findings and the lost terms', a term missing from a text reported once (as lost: it says where)."""
    lost = {(_family(f.where), f.text) for f in losses}
    return [f for f in findings if not (f.check == "glossary" and (_family(f.where), f.text) in lost)] + losses


def review_translation(source: str, translation: str, paragraphs: list[str],
                       glossary: "AppliedGlossary | None" = None, lost: list[LostTerm] = (),
                       lang: str = "hin_Deva") -> Report:  # fmt: skip
    """A translation's findings (``/translate``): the checks', and the glossary terms the model lost."""
    return review_article(source, translation, paragraphs, {}, glossary, lost, lang=lang)[0]


def drop_from_native(source: str, native: str, key: str, lang: str) -> tuple[str, list[Finding] | None]:
    """``on_unsupported=drop`` on the summary in the article's language (``key``: its ISO code), before it is
    translated (so the English one follows): the summary without its sentences with a figure the article lacks, and
    its findings (those that removed a sentence say so). On a fault of the checks the summary is kept whole (and
    checked with the rest)."""
    try:
        findings = run_checks(source, summary={key: native}, lang=lang).findings
        return drop_unsupported(native, findings, f"summary.{key}")
    except Exception as exc:  # noqa: BLE001 - a bug of the checks, never the caller's fault
        log.error("the checks failed on a %s summary: %s: %s", key, type(exc).__name__, exc, exc_info=exc)
        return native, None


def review_article(
    source: str,
    translation: str | None,
    paragraphs: list[str] | None,
    summary: dict[str, str | None],
    glossary: "AppliedGlossary | None" = None,
    lost: list[LostTerm] = (),
    lost_in_summary: list[LostTerm] = (),
    drop: bool = False,
    native_findings: list[Finding] | None = None,
    lang: str = "hin_Deva",
) -> tuple[Report, str | None]:
    """An article's findings, and its English summary (without the sentences ``drop`` removed). ``summary``: the
    summaries returned (the article's language's under its ISO code, and "en"; None where not made);
    ``native_findings``: the native summary's, when ``drop_from_native`` made them already (they say what it
    removed). A fault of the checks never costs the article: it is served with an ``unchecked`` finding."""
    summary = {k: v for k, v in summary.items() if v is not None}
    native_where = next((f"summary.{k}" for k in summary if k != "en"), None)
    try:
        report = run_checks(source, translation=translation, paragraphs=paragraphs, summary=summary or None,
                            glossary=glossary.entries if glossary else (), lang=lang)  # fmt: skip
        texts = [(f"translation.paragraphs[{i}]", p) for i, p in enumerate(paragraphs or [])]
        losses = lost_findings(list(lost), texts)
        if "en" in summary:
            losses += lost_findings(list(lost_in_summary), [("summary.en", summary["en"])])
        findings = _merged(report.findings, losses)
        if native_findings is not None:
            findings = [f for f in findings if f.where != native_where] + native_findings
        english = summary.get("en")
        if drop and english is not None:
            english, findings = drop_unsupported(english, findings, "summary.en")
        return Report(findings), english
    except Exception as exc:  # noqa: BLE001 - a bug of the checks, never the caller's fault
        where = "translation" if translation is not None else native_where or "summary.en"
        return unchecked(where, exc), summary.get("en")


def as_meta(report: Report, max_findings: int) -> dict:
    """``{"checks", "review"}`` for a response: the first ``max_findings`` findings, and the rest counted in one
    ``more`` finding (a degenerate output can have thousands: each repeated figure is one)."""
    listed = report.findings[:max_findings]
    if len(report.findings) > max_findings:
        rest = len(report.findings) - max_findings
        detail = f"{rest} more findings not listed (the limit is {max_findings}: SUMMARIZER_MAX_FINDINGS)"
        listed.append(Finding("more", "warning", report.findings[max_findings].where, (0, 0), "", detail))
    return Report(listed).as_dict()


def load_word_lists() -> None:
    """The checks' word lists (the name check's English word counts: about a second), loaded before the first
    result needs them."""
    run_checks("भारत", translation="India")


def unchecked(where: str, exc: BaseException) -> Report:
    """The checks failed on a result (a bug, never the caller's fault): the result is served, and an editor is asked
    to read it."""
    log.error("the checks failed on a result: %s: %s", type(exc).__name__, exc, exc_info=exc)
    detail = "the checks failed on this result; read it before publishing"
    return Report([Finding("unchecked", "warning", where, (0, 0), "", detail)])
