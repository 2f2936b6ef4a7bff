"""One job: split → translate + summarize → assemble. No model code here: the work goes through the engines, and
every step over request text runs on the text workers (service.workers), never on the event loop."""

import asyncio
import time
from collections.abc import Awaitable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from . import review
from .errors import ArticleTooLong, InvalidText, UnsupportedLanguage
from .text.checks import clean_article
from .text.html_doc import HtmlDocument, HtmlLimits
from .text.indic_processing import TARGET_LANG
from .text.language import LANGUAGES, Detection, detect_language, require_script
from .text.splitting import ArticleLayout, split_article, split_sentences
from .workers import Deadline, TextWorkers, all_or_none

if TYPE_CHECKING:  # the API imports this module and must not pull in torch
    from .engine.scheduler import BatchScheduler
    from .glossaries import AppliedGlossary
    from .memory import Memory
    from .summarization.summarizer import Summarizer
    from .translation.translator import Translator


SUMMARY_SENTENCES = 2  # sentences of a summary, for the admission estimate (the English summary is translated)
CHARS_PER_SENTENCE = 90  # Hindi news, for the estimate before splitting (seed article 92, the corpus 87)
LOCAL_SCOPE = "local"  # the translation memory's part for work started in this process (summarize-file, scripts)
SOURCE = "source"  # in summary_languages: the article's own language, whichever it is
ENGLISH = "en"  # summaries are keyed by ISO 639-1 (639-3 for languages without a 639-1 code)


@dataclass(frozen=True)
class JobOptions:
    translate: bool = True
    summary_languages: tuple[str, ...] = (SOURCE, ENGLISH)  # SOURCE, ENGLISH, or a served language's ISO code
    long_article: str = "lead"
    translation_num_beams: int | None = None
    summary_num_beams: int | None = None
    cache: bool = True  # False: nothing of the request is looked up in or written to the translation memory
    priority: str = "interactive"  # the engines' lane: "interactive" or "bulk" (service.engine.scheduler)
    format: str = "text"  # "html": the text is a post body; its translation keeps the markup (text.html_doc)
    html_attributes: bool = False  # HTML mode: translate alt and title attributes too
    cache_scope: str = LOCAL_SCOPE  # whose translation memory: "key:<name>" or "open" (HTTP callers, api.routes)
    glossary: "AppliedGlossary | None" = None  # its terms are enforced in the translation and the English summary
    on_unsupported: str = "flag"  # "drop": summary sentences with a figure or name the article lacks are removed
    # Per article, in order, the FLORES-200 code of the language its caller named; None (or none at all): detected.
    source_langs: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class SourceLanguage:
    """The language an article is in: named by its caller (``detection`` None) or detected."""

    code: str  # FLORES-200
    detection: Detection | None = None


class CleanedText(NamedTuple):
    """A validated text as the job works on it (``Pipeline.clean``)."""

    text: str
    layout: ArticleLayout
    split_ms: float
    document: "HtmlDocument | None"  # HTML mode: the parsed post body
    language: SourceLanguage


@dataclass(frozen=True)
class SummaryPlan:
    """Which summaries one article gets. mT5 XL-Sum summarizes an article in its own language when XL-Sum covers it
    (that summary, translated by IndicTrans2, is the English one); for the other languages it summarizes the English
    translation (in English), and there is no summary in the article's language."""

    keys: tuple[str, ...]  # the answer's summary keys: the article's language, "en", then any other asked for
    native: bool  # the summary in the article's language is asked for and made
    english: bool  # the English summary is asked for
    from_translation: bool  # the English summary is mT5's summary of the English translation
    reasons: dict[str, str]  # summaries asked for that cannot be made, and why (the answer's meta says it)

    @property
    def summarizes(self) -> bool:
        return self.native or self.english


def plan_summaries(lang: str, asked: Sequence[str]) -> SummaryPlan:
    """The summaries of an article in ``lang`` (a served FLORES-200 code) when ``asked`` for these keys."""
    language = LANGUAGES[lang]
    wanted = [language.iso if key == SOURCE else key for key in asked]
    reasons = {}
    for key in wanted:
        if key not in (ENGLISH, language.iso):
            reasons[key] = (f"the article is in {language.name} ({lang}): its summaries are in {language.name} and "
                            "English only")  # fmt: skip
        elif key == language.iso and not language.xlsum:
            reasons[key] = (f"mT5 XL-Sum does not summarize {language.name}: no {language.name} summary; the English "
                            "summary is mT5's summary of the English translation")  # fmt: skip
    english = ENGLISH in wanted
    return SummaryPlan(
        tuple(dict.fromkeys([language.iso, ENGLISH, *wanted])), language.xlsum and language.iso in wanted, english,
        english and not language.xlsum, reasons,
    )  # fmt: skip


@dataclass
class CacheTally:
    """Translation-memory use of one article: its sentences (pieces of over-long ones count apiece) and how many
    were reused; whether its summary was."""

    sentences: int = 0
    hits: int = 0
    summary_reused: bool = False


@dataclass
class ArticleResult:
    id: str
    language: SourceLanguage | None = None
    summaries: dict[str, str | None] = field(default_factory=dict)  # SummaryPlan.keys → the summary, or None
    unavailable_summaries: dict[str, str] = field(default_factory=dict)  # SummaryPlan.reasons
    translation_en: str | None = None
    paragraphs_en: list[str] | None = None
    translation_html: str | None = None
    input_tokens: int = 0
    truncated: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    cache: CacheTally = field(default_factory=CacheTally)
    review: "review.Report" = field(default_factory=lambda: review.Report())  # the checks' findings and verdict


def sentence_count(layout: ArticleLayout, document: "HtmlDocument | None") -> int:
    """How many sentences a text sends to the translator: in HTML mode, those of every text node apiece."""
    return len(document.sentences) if document is not None else len(layout.sentences)


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


class Pipeline:
    def __init__(
        self,
        translator: "Translator",
        summarizer: "Summarizer",
        translation_engine: "BatchScheduler",
        summary_engine: "BatchScheduler",
        text_workers: TextWorkers,
        max_article_chars: int,
        max_sentences: int = 1000,
        memory: "Memory | None" = None,
        *,
        html_limits: HtmlLimits,
        language_sample_chars: int,
    ):
        self.translator = translator
        self.summarizer = summarizer
        self.translation_engine = translation_engine
        self.summary_engine = summary_engine
        self.text_workers = text_workers
        self.max_article_chars = max_article_chars
        self.max_sentences = max_sentences
        self.memory = memory
        self.html_limits = html_limits
        self.language_sample_chars = language_sample_chars

    async def clean_all(
        self,
        texts: Sequence[tuple[str, str]],
        languages: Sequence[str | None],
        deadline: Deadline | None = None,
        options: "JobOptions | None" = None,
    ) -> list[CleanedText]:
        """``clean`` every (label, text), in its language (``languages``, in order: a FLORES-200 code, or None to
        detect it), on a text worker, the deadline checked between texts. The first bad text fails the whole request;
        its label names it when there are several; a request with more sentences than the translation queue can ever
        hold fails with ``TooLargeForQueue``."""
        checked = deadline or Deadline()

        def clean_each():
            cleaned = []
            for (label, text), lang in zip(texts, languages, strict=True):
                checked.check()
                cleaned.append(self.clean(text, label if len(texts) > 1 else "", lang, options, checked))
            return cleaned

        cleaned = await self.text_workers.run(deadline, clean_each)
        self.translation_engine.check_fits(sum(sentence_count(c.layout, c.document) for c in cleaned))
        return cleaned

    def clean(
        self,
        text: str,
        label: str = "",
        lang: str | None = None,
        options: "JobOptions | None" = None,
        deadline: Deadline | None = None,
    ) -> CleanedText:
        """Validate one input text, tell its language (``lang`` when the caller named one, its script checked; else
        detected) and split it by that language's rules (once: the layout is what the job works on); in HTML mode
        parse it first (its units' text is what is checked, split and summarized). The bounds count the text as sent
        (markup too) and the sentences to translate; errors name the article when there are several."""
        started = time.perf_counter()
        where = f"article {label}: " if label else ""
        if len(text) > self.max_article_chars:
            raise ArticleTooLong(f"{where}{len(text)} characters, over the limit of {self.max_article_chars}")
        document = None
        try:
            if options is not None and options.format == "html":
                check = (deadline or Deadline()).check
                document = HtmlDocument(text, options.html_attributes, self.html_limits, check, lang=None)
                text = document.plain_text()
            text = clean_article(text)
            language = self.source_language(text, lang)
        except InvalidText as exc:
            raise InvalidText(where + exc.message, exc.code) from None
        except UnsupportedLanguage as exc:
            raise UnsupportedLanguage(where + exc.message) from None
        except ArticleTooLong as exc:  # the HTML's attributes
            raise ArticleTooLong(where + exc.message) from None
        layout = split_article(text, language.code)
        if document is not None:
            document.split(language.code)
        if (count := sentence_count(layout, document)) > self.max_sentences:
            raise ArticleTooLong(f"{where}{count} sentences, over the limit of {self.max_sentences}")
        return CleanedText(text, layout, _ms_since(started), document, language)

    def source_language(self, text: str, lang: str | None) -> SourceLanguage:
        """The language the caller named (``UnsupportedLanguage`` when the text has no letter of its script), or the
        one detected (``UnsupportedLanguage`` naming what was found when it is not served)."""
        if lang is not None:
            require_script(text, lang, self.language_sample_chars)
            return SourceLanguage(lang)
        detection = detect_language(text, self.language_sample_chars)
        return SourceLanguage(detection.lang, detection)

    def languages_of(self, options: "JobOptions", count: int) -> tuple[str | None, ...]:
        """The languages named for ``count`` articles (None: detect), from ``options.source_langs``."""
        named = options.source_langs or (None,) * count
        if len(named) != count:
            raise ValueError(f"{len(named)} source languages for {count} articles")
        return tuple(named)

    # --- translation --------------------------------------------------------------------------------------------
    async def translate_sentences(
        self,
        sentences: list[str],
        src_lang: str,
        num_beams: int | None,
        deadline: Deadline | None = None,
        use_memory: bool = True,
        tally: CacheTally | None = None,
        lane: str = "interactive",
        scope: str = LOCAL_SCOPE,
        *,
        glossary: "AppliedGlossary | None" = None,
        lost: list | None = None,
    ) -> list[str]:
        """Sentences → English, in order. With the translation memory, only the pieces it does not hold go to the
        engine; the model's outputs are kept before placeholders are restored, so a hit takes this request's. With a
        ``glossary`` its terms go to the model as placeholders and come back as its targets; a term the model
        dropped is added to ``lost`` (``LostTerm``)."""
        if not sentences:
            return []
        workers = self.text_workers
        beams = num_beams or self.translator.num_beams
        memory = self.memory if use_memory else None

        def key(piece) -> bytes:  # a piece with glossary terms: the glossary's version too
            version = [glossary.version] if piece.terms else []
            return memory.key("translation", scope, src_lang, "eng_Latn", beams, piece.input_ids, *version)

        def prepare():
            pieces = self.translator.prepare(sentences, src_lang, deadline, glossary and glossary.matcher)
            if memory is None:
                return pieces, [], [None] * len(pieces)
            keys = [key(p) for p in pieces]
            return pieces, keys, memory.lookup("translation", keys)

        pieces, keys, decoded = await workers.run(deadline, prepare)
        todo = [i for i, text in enumerate(decoded) if text is None]
        if tally is not None:
            tally.sentences += len(pieces)
            tally.hits += len(pieces) - len(todo)
        if todo:
            fresh = await self.translation_engine.run(
                [pieces[i].input_ids for i in todo], [len(pieces[i].input_ids) for i in todo], beams, lane, deadline
            )
            for i, text in zip(todo, fresh, strict=True):
                decoded[i] = text

        def finish():
            if memory is not None:
                memory.remember({keys[i]: decoded[i] for i in todo})
            return self.translator.finish(pieces, decoded, len(sentences), deadline, lost)

        return await workers.run(deadline, finish)

    async def translate_layout(
        self,
        layout: ArticleLayout,
        src_lang: str = "hin_Deva",
        num_beams: int | None = None,
        deadline: Deadline | None = None,
        use_memory: bool = True,
        scope: str = LOCAL_SCOPE,
        **glossing,
    ):
        """A whole text, paragraph-preserving: returns (English text, English paragraphs). ``glossing``:
        ``translate_sentences``' glossary and lost."""
        return layout.join(await self.translate_sentences(layout.sentences, src_lang, num_beams, deadline, use_memory,
                                                          scope=scope, **glossing))  # fmt: skip

    async def translate_document(
        self,
        document: "HtmlDocument",
        src_lang: str = "hin_Deva",
        num_beams: int | None = None,
        deadline: Deadline | None = None,
        use_memory: bool = True,
        tally: CacheTally | None = None,
        lane: str = "interactive",
        scope: str = LOCAL_SCOPE,
        **glossing,
    ) -> tuple[str, list[str], str]:
        """HTML mode: every text node's sentences translated (pooled with all other work), written back into the
        document: (English text, English paragraphs, sanitized HTML), the first two as ``translate_layout``'s."""
        sentences = document.sentences
        english = await self.translate_sentences(
            sentences, src_lang, num_beams, deadline, use_memory, tally, lane, scope, **glossing
        )
        html, paragraphs = await self.text_workers.run(deadline, document.fill, english)
        return "\n".join(paragraphs), paragraphs, html

    # --- summaries ----------------------------------------------------------------------------------------------
    async def summarize_text(
        self,
        text: str,
        lang: str,
        policy: str,
        num_beams: int | None,
        deadline: Deadline | None = None,
        use_memory: bool = True,
        lane: str = "interactive",
        scope: str = LOCAL_SCOPE,
    ):
        """mT5's summary of a cleaned text in ``lang`` (FLORES-200; its sentence ends bound the chunks), in that
        language, and what was fed to mT5 (``prepared``); reused from the memory when mT5's input is the same (an
        edit past the lead's 512 tokens leaves it so; the input's tokens say its language): (summary, prepared,
        reused)."""
        beams = num_beams or self.summarizer.num_beams
        memory = self.memory if use_memory else None

        def prepare():
            prepared = self.summarizer.prepare(text, policy, deadline, lang)
            if memory is None:
                return prepared, None, None
            key = memory.key("summarization", scope, beams, prepared.rows)
            return prepared, key, memory.lookup("summarization", [key])[0]

        prepared, key, known = await self.text_workers.run(deadline, prepare)
        if known is not None:
            return known, prepared, True
        parts = await self.summary_engine.run(prepared.rows, [len(r) for r in prepared.rows], beams, lane, deadline)
        if len(parts) > 1:
            row = await self.text_workers.run(deadline, self.summarizer.second_pass, parts)
            parts = await self.summary_engine.run([row], [len(row)], beams, lane, deadline)
        if key is not None:
            await self.text_workers.run(deadline, memory.remember, {key: parts[0]})
        return parts[0], prepared, False

    # --- the job ------------------------------------------------------------------------------------------------
    async def process_article(
        self, article_id: str, cleaned: CleanedText, options: JobOptions, deadline: Deadline | None = None
    ) -> ArticleResult:
        started = time.perf_counter()
        text, layout, split_ms, document, language = cleaned
        lang = language.code
        plan = plan_summaries(lang, options.summary_languages)
        result = ArticleResult(article_id, language, dict.fromkeys(plan.keys), plan.reasons)
        result.timings_ms["split"] = split_ms

        lost, lost_in_summary, native_findings = [], [], None  # glossary terms the model dropped; drop's findings

        async def translation() -> str:
            """The English article (kept in the answer when its translation was asked for)."""
            t0 = time.perf_counter()
            html = None
            if document is not None:
                english, paragraphs, html = await self.translate_document(
                    document, lang, options.translation_num_beams, deadline, options.cache, result.cache,
                    options.priority, options.cache_scope, glossary=options.glossary, lost=lost,
                )
            else:
                sentences = await self.translate_sentences(
                    layout.sentences, lang, options.translation_num_beams, deadline, options.cache,
                    result.cache, options.priority, options.cache_scope, glossary=options.glossary, lost=lost,
                )
                english, paragraphs = layout.join(sentences)
            if options.translate:
                result.translation_en, result.paragraphs_en, result.translation_html = english, paragraphs, html
            result.timings_ms["translate"] = _ms_since(t0)
            return english

        async def summaries(english_article: Awaitable[str] | None):
            """mT5 over the article (or, with ``english_article``, over its English translation); then the summary
            in English, translated by IndicTrans2 where mT5 wrote it in the article's language."""
            nonlocal native_findings
            t0 = time.perf_counter()
            source, source_lang = (await english_article, TARGET_LANG) if english_article else (text, lang)
            summary, prepared, result.cache.summary_reused = await self.summarize_text(
                source, source_lang, options.long_article, options.summary_num_beams, deadline, options.cache,
                options.priority, options.cache_scope,
            )
            result.input_tokens, result.truncated = prepared.input_tokens, prepared.truncated
            if english_article:
                result.summaries[ENGLISH] = summary
            else:
                native_key = LANGUAGES[lang].iso
                if options.on_unsupported == "drop":  # before it is translated: the English summary follows
                    summary, native_findings = await self.text_workers.run(
                        deadline, review.drop_from_native, text, summary, native_key, lang
                    )
                if plan.native:
                    result.summaries[native_key] = summary
                if plan.english:
                    english = await self.translate_sentences(
                        split_sentences(summary, lang), lang, options.translation_num_beams, deadline, options.cache,
                        lane=options.priority, scope=options.cache_scope, glossary=options.glossary,
                        lost=lost_in_summary,
                    )
                    result.summaries[ENGLISH] = " ".join(english)
            result.timings_ms["summarize"] = _ms_since(t0)

        if not plan.summarizes:  # the response still reports how long the article is in summarizer tokens
            prepared = await self.text_workers.run(
                deadline, self.summarizer.prepare, text, options.long_article, deadline, lang
            )
            result.input_tokens, result.truncated = prepared.input_tokens, prepared.truncated
        jobs: list[Awaitable] = []
        english_article = None
        if options.translate or plan.from_translation:
            english_article = asyncio.ensure_future(translation())  # the summary may await it too
            jobs.append(english_article)
        if plan.summarizes:
            jobs.append(summaries(english_article if plan.from_translation else None))
        await all_or_none(jobs)

        def check():
            checked = {key: value for key, value in result.summaries.items() if key in (ENGLISH, LANGUAGES[lang].iso)}
            result.review, english_summary = review.review_article(
                text, result.translation_en, result.paragraphs_en, checked, options.glossary, lost, lost_in_summary,
                options.on_unsupported == "drop", native_findings if plan.native else None, lang,
            )
            if ENGLISH in result.summaries:
                result.summaries[ENGLISH] = english_summary

        await self.text_workers.run(deadline, check)
        result.timings_ms.setdefault("translate", 0.0)
        result.timings_ms.setdefault("summarize", 0.0)
        result.timings_ms["total"] = round(split_ms + _ms_since(started), 1)
        return result

    def translates(self, lang: str, options: JobOptions) -> bool:
        """Whether an article's sentences go to the translator: its translation is asked for, or its English summary
        is made from it."""
        return options.translate or plan_summaries(lang, options.summary_languages).from_translation

    async def process(
        self, articles: list[tuple[str, str]], options: JobOptions, deadline: Deadline | None = None
    ) -> list[ArticleResult]:
        """Every article validated first (nothing runs for a request with a bad one), then all concurrently; each in
        its own language (``options.source_langs``, else detected)."""
        languages = self.languages_of(options, len(articles))
        with self.admission(options, deadline) as admit:
            admit([self.estimated_sentences(text) for _, text in articles])  # at once, before any text work
            cleaned = await self.clean_all(articles, languages, deadline, options)
            self.summary_engine.check_fits(len(cleaned))
            admit([sentence_count(c.layout, c.document) for c in cleaned],  # the real counts
                  [self.translates(c.language.code, options) for c in cleaned])  # fmt: skip
            jobs = zip((article_id for article_id, _ in articles), cleaned)
            return await all_or_none(self.process_article(article_id, c, options, deadline) for article_id, c in jobs)

    @contextmanager
    def admission(self, options: JobOptions, deadline: Deadline | None):
        """Admission control for one request: ``admit(sentence counts per text)`` refuses (``Overloaded``, 429)
        before any model work a request an engine predicts would finish after its deadline (its sentences, and its
        summaries' English sentences, on the translation engine; its articles on the summary engine), and reserves
        the work otherwise; leaving the block releases what was not queued."""
        engines = (self.translation_engine, self.summary_engine)

        def admit(sentence_counts: Sequence[int], translated: Sequence[bool] | None = None) -> None:
            """``translated``: per text, whether its sentences are translated (default: ``options.translate``)."""
            if deadline is None:
                return
            translated = translated or [options.translate] * len(sentence_counts)
            sentences = sum(n for n, translate in zip(sentence_counts, translated) if translate)
            if ENGLISH in options.summary_languages:
                sentences += SUMMARY_SENTENCES * len(sentence_counts)
            self.translation_engine.admit(sentences, options.priority, deadline)
            if options.summary_languages:
                self.summary_engine.admit(len(sentence_counts), options.priority, deadline)

        try:
            yield admit
        finally:
            for engine in engines:
                engine.release(deadline)

    def estimated_sentences(self, text: str) -> int:
        """How many sentences a text will split into, from its length alone (no work on its text)."""
        return max(1, round(len(text) / CHARS_PER_SENTENCE))
