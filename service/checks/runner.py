"""One entry point for every check, and the ``drop`` policy for summary sentences that carry an unsupported figure
or name."""

from bisect import bisect_right
from dataclasses import replace

from ..text.patterns import compile_linear
from ..text.splitting import split_article
from . import numbers, surface
from .findings import Finding, Report
from .glossary import Glossary, check_glossary
from .names import SourceNames, check_names, lower_case_words
from .tokens import sentence_spans

_LINE = compile_linear(r"[^\n]+")
DROPPABLE = ("number", "name")  # the checks whose summary findings options.on_unsupported=drop acts on
_QUOTED = 200  # characters of a removed sentence that a finding quotes


def _lines(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in _LINE.finditer(text) if m.group().strip()]


def _translation_units(source: str, translation: str | None, paragraphs: list[str] | None):
    """(where, output, its source, offset of the output in the text ``where`` names): per paragraph where the
    translation's paragraphs pair with the source's, else the whole translation against the whole source."""
    source_paragraphs = [" ".join(p) for p in split_article(source).paragraphs] if source.strip() else []
    if paragraphs is not None and len(paragraphs) == len(source_paragraphs):
        pairs = enumerate(zip(paragraphs, source_paragraphs))
        return [(f"translation.paragraphs[{i}]", p, s, 0) for i, (p, s) in pairs]
    text = translation if translation is not None else "\n".join(paragraphs or [])
    lines = _lines(text)
    if len(lines) == len(source_paragraphs) > 1:
        return [("translation", line, s, start) for (start, line), s in zip(lines, source_paragraphs)]
    return [("translation", text, source, 0)]


def _check_translation(source, translation, paragraphs, glossary: Glossary, names: SourceNames, english: str):
    findings = []
    lower_words = lower_case_words(english)
    for where, output, unit_source, offset in _translation_units(source, translation, paragraphs):
        found = surface.check_empty(unit_source, output, where)
        if not found:
            masked = surface.masked(output)  # URLs, e-mails, handles: the placeholder check's, no figures or names
            found += surface.check_artifacts(output, where)
            found += surface.check_untranslated(masked, where)
            found += surface.check_placeholders(unit_source, output, where)
            found += numbers.check_translation(surface.masked(unit_source), masked, where)
            if names is not None:
                found += check_names(names, masked, where, "warning", "the source", lower_words)
            found += surface.check_repetition(output, where, source=unit_source)
            found += surface.check_length(unit_source, output, where)
            if glossary:
                found += check_glossary(glossary, unit_source, output, where)
        findings += [f.moved(where, offset) for f in found]
    return findings


def _check_summary(source, english, summary: dict, glossary: Glossary, names: SourceNames | None,
                   devanagari: bool = True) -> list[Finding]:  # fmt: skip
    """A summary's figures must be the article's (the source's, or its translation's); its English names must be
    in the source or the translation."""
    findings = []
    supported = numbers.keys_of(surface.masked(source))
    if english:
        supported |= numbers.keys_of(surface.masked(english))
    native_key = next((key for key in summary if key != "en"), None)  # the summary in the article's language
    native, english_summary = summary.get(native_key), summary.get("en")
    if native is not None:
        where = f"summary.{native_key}"
        findings += surface.check_empty(source, native, where)
        findings += surface.check_artifacts(native, where)
        findings += surface.check_repetition(native, where, source=source)
        findings += numbers.check_summary(supported, surface.masked(native), where)
    if english_summary is not None:
        where = "summary.en"
        findings += surface.check_empty(source, english_summary, where)
        findings += surface.check_artifacts(english_summary, where)
        masked = surface.masked(english_summary)
        findings += surface.check_untranslated(masked, where)
        findings += surface.check_repetition(english_summary, where, source=source)
        findings += numbers.check_summary(supported, masked, where)
        if names is not None and (devanagari or english):  # other scripts: the names of the translation only
            article = "the article" + (" or its translation" if english else "")
            lower_words = lower_case_words(english_summary + "\n" + (english or ""))
            names = names.including(english) if english else names
            findings += check_names(names, masked, where, "error", article, lower_words)
        if glossary and native:  # the English summary is a translation of the native one
            findings += check_glossary(glossary, native, english_summary, where)
    return findings


def run_checks(
    source: str,
    translation: str | None = None,
    paragraphs: list[str] | None = None,
    summary: dict[str, str | None] | None = None,
    glossary=(),
    lang: str = "hin_Deva",
) -> Report:
    """Check a translation (the whole text, its paragraphs, or both) and a summary ({"hi", "en"}: the summary in the
    article's language under its ISO code, and the English one) of ``source``, written in ``lang`` (FLORES-200).
    The name check reads Devanagari sources only (its romanizer and variants are Hindi's): in other scripts a
    translation's names are not checked, and a summary's are looked up in the translation alone.

    ``glossary``: (source term, target) pairs. Findings are located in the texts as given: ``translation.paragraphs[i]``
    where the paragraphs pair with the source's, else ``translation``.
    """
    glossary = Glossary(glossary)
    findings = []
    english = translation if translation is not None else "\n".join(paragraphs) if paragraphs is not None else None
    devanagari = lang.endswith("_Deva")
    wants_names = english is not None or (summary or {}).get("en") is not None
    names = SourceNames(source if devanagari else "") if wants_names else None
    if english is not None:
        findings += _check_translation(source, translation, paragraphs, glossary, names if devanagari else None,
                                       english)  # fmt: skip
    if summary:
        findings += _check_summary(source, english, summary, glossary, names, devanagari)
    return Report(findings)


def drop_unsupported(summary_text: str, findings: list[Finding], where: str = "summary.en"):
    """``options.on_unsupported=drop``: the summary without its sentences that carry an unsupported figure or name,
    and the findings updated: those that caused a drop say so and point, empty, at where the sentence was; the other
    findings of this summary follow the text they were in (or are dropped with it, saying so).

    Returns (text, findings). Drop from the Hindi summary before it is translated, so that the English one follows.
    """
    causes = [f for f in findings if f.where == where and f.check in DROPPABLE]
    if not causes:
        return summary_text, findings
    spans = sentence_spans(summary_text)
    starts = [a for a, _ in spans]

    def sentence_of(position: int) -> int:
        return max(bisect_right(starts, position) - 1, 0)

    runs: list[list[int]] = []  # runs of dropped sentences side by side: [first, last]
    for i in sorted({sentence_of(f.span[0]) for f in causes}):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    cuts = []  # a run takes the whitespace after it; a run that ends the summary, the whitespace before it
    for first, last in runs:
        if last + 1 < len(spans):
            cuts.append((spans[first][0], spans[last + 1][0]))
        else:
            cuts.append((spans[first - 1][1] if first else spans[first][0], spans[last][1]))
    text = "".join(summary_text[a:b] for a, b in zip([0] + [e for _, e in cuts], [s for s, _ in cuts] + [None]))
    removed_before = [0]  # characters removed by the cuts before cut k
    for start, end in cuts:
        removed_before.append(removed_before[-1] + end - start)
    cut_starts = [a for a, _ in cuts]

    quoted = [_quote(summary_text[a:b]) for a, b in cuts]
    updated = []
    for finding in findings:
        if finding.where != where:
            updated.append(finding)
            continue
        k = bisect_right(cut_starts, finding.span[0]) - 1
        if k >= 0 and finding.span[0] < cuts[k][1]:  # in a removed sentence
            position = cuts[k][0] - removed_before[k]
            why = "removed the sentence" if finding.check in DROPPABLE else "in a removed sentence"
            detail = f"{finding.detail}; {why}: «{quoted[k]}»"
            updated.append(replace(finding, span=(position, position), detail=detail))
        else:
            shift = removed_before[k + 1]
            updated.append(replace(finding, span=(finding.span[0] - shift, finding.span[1] - shift)))
    return text, updated


def _quote(sentence: str) -> str:
    """A removed sentence as a finding quotes it: whitespace normalized, at most ``_QUOTED`` characters."""
    sentence = " ".join(sentence[: _QUOTED * 2].split())
    return sentence if len(sentence) <= _QUOTED else sentence[: _QUOTED - 1] + "…"
