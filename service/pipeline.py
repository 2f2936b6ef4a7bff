"""One job: split → translate + summarize → assemble. No model code here: the work goes through the engines, and
every step over request text runs on the text workers (service.workers), never on the event loop."""

import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import review
from .errors import ArticleTooLong, InvalidText
from .text.checks import clean_article
from .text.html_doc import HtmlDocument, HtmlLimits
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


@dataclass(frozen=True)
class JobOptions:
    translate: bool = True
    summary_languages: tuple[str, ...] = ("hi", "en")
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
    summary_hi: str | None = None
    summary_en: str | None = None
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

    async def clean_all(
        self,
        texts: Sequence[tuple[str, str]],
        script: str = "Deva",
        deadline: Deadline | None = None,
        options: "JobOptions | None" = None,
    ) -> list[tuple[str, ArticleLayout, float, "HtmlDocument | None"]]:
        """``clean`` every (label, text) on a text worker, the deadline checked between texts: (text, layout, ms,
        the parsed document in HTML mode) each. The first bad text fails the whole request; its label names it when
        there are several; a request with more sentences than the translation queue can ever hold fails with
        ``TooLargeForQueue``."""
        checked = deadline or Deadline()

        def clean_each():
            cleaned = []
            for label, text in texts:
                checked.check()
                started = time.perf_counter()
                text, layout, document = self.clean(text, label if len(texts) > 1 else "", script, options, checked)
                cleaned.append((text, layout, _ms_since(started), document))
            return cleaned

        cleaned = await self.text_workers.run(deadline, clean_each)
        self.translation_engine.check_fits(sum(sentence_count(layout, document) for _, layout, _, document in cleaned))
        return cleaned

    def clean(
        self,
        text: str,
        label: str = "",
        script: str = "Deva",
        options: "JobOptions | None" = None,
        deadline: Deadline | None = None,
    ) -> tuple[str, ArticleLayout, "HtmlDocument | None"]:
        """Validate one input text and split it (once: the layout is what the job works on); in HTML mode parse it
        first (its units' text is what is checked, split and summarized): (text, layout, document or None). The
        bounds count the text as sent (markup too) and the sentences to translate; errors name the article when
        there are several."""
        where = f"article {label}: " if label else ""
        if len(text) > self.max_article_chars:
            raise ArticleTooLong(f"{where}{len(text)} characters, over the limit of {self.max_article_chars}")
        document = None
        try:
            if options is not None and options.format == "html":
                document = HtmlDocument(text, options.html_attributes, self.html_limits, (deadline or Deadline()).check)
                text = document.plain_text()
            text = clean_article(text, script)
        except InvalidText as exc:
            raise InvalidText(where + exc.message, exc.code) from None
        except ArticleTooLong as exc:  # the HTML's attributes
            raise ArticleTooLong(where + exc.message) from None
        layout = split_article(text)
        if (count := sentence_count(layout, document)) > self.max_sentences:
            raise ArticleTooLong(f"{where}{count} sentences, over the limit of {self.max_sentences}")
        return text, layout, document

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
    async def summarize_hindi(
        self,
        text: str,
        policy: str,
        num_beams: int | None,
        deadline: Deadline | None = None,
        use_memory: bool = True,
        lane: str = "interactive",
        scope: str = LOCAL_SCOPE,
    ):
        """The Hindi summary of a cleaned article, and what was fed to mT5 (``prepared``); reused from the memory
        when mT5's input is the same (an edit past the lead's 512 tokens leaves it so): (summary, prepared, reused)."""
        beams = num_beams or self.summarizer.num_beams
        memory = self.memory if use_memory else None

        def prepare():
            prepared = self.summarizer.prepare(text, policy, deadline)
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
        self,
        article_id: str,
        text: str,
        layout: ArticleLayout,
        split_ms: float,
        document: "HtmlDocument | None",
        options: JobOptions,
        deadline: Deadline | None = None,
    ) -> ArticleResult:
        started = time.perf_counter()
        result = ArticleResult(id=article_id)
        result.timings_ms["split"] = split_ms

        lost, lost_in_summary, hindi_findings = [], [], None  # glossary terms the model dropped; drop's findings

        async def translation():
            t0 = time.perf_counter()
            if document is not None:
                result.translation_en, result.paragraphs_en, result.translation_html = await self.translate_document(
                    document, "hin_Deva", options.translation_num_beams, deadline, options.cache, result.cache,
                    options.priority, options.cache_scope, glossary=options.glossary, lost=lost,
                )
            else:
                english = await self.translate_sentences(
                    layout.sentences, "hin_Deva", options.translation_num_beams, deadline, options.cache,
                    result.cache, options.priority, options.cache_scope, glossary=options.glossary, lost=lost,
                )
                result.translation_en, result.paragraphs_en = layout.join(english)
            result.timings_ms["translate"] = _ms_since(t0)

        async def summaries():
            nonlocal hindi_findings
            t0 = time.perf_counter()
            hindi, prepared, result.cache.summary_reused = await self.summarize_hindi(
                text, options.long_article, options.summary_num_beams, deadline, options.cache, options.priority,
                options.cache_scope,
            )
            result.input_tokens, result.truncated = prepared.input_tokens, prepared.truncated
            if "hi" in options.summary_languages:
                if options.on_unsupported == "drop":  # before it is translated: the English summary follows
                    hindi, hindi_findings = await self.text_workers.run(deadline, review.drop_from_hindi, text, hindi)
                result.summary_hi = hindi
            if "en" in options.summary_languages:
                english = await self.translate_sentences(
                    split_sentences(hindi), "hin_Deva", options.translation_num_beams, deadline, options.cache,
                    lane=options.priority, scope=options.cache_scope, glossary=options.glossary, lost=lost_in_summary,
                )
                result.summary_en = " ".join(english)
            result.timings_ms["summarize"] = _ms_since(t0)

        jobs = [translation()] if options.translate else []
        if options.summary_languages:
            jobs.append(summaries())
        else:  # the response still reports how long the article is in summarizer tokens
            prepared = await self.text_workers.run(
                deadline, self.summarizer.prepare, text, options.long_article, deadline
            )
            result.input_tokens, result.truncated = prepared.input_tokens, prepared.truncated
        await all_or_none(jobs)

        def check():
            result.review, result.summary_en = review.review_article(
                text, result.translation_en, result.paragraphs_en, {"hi": result.summary_hi, "en": result.summary_en},
                options.glossary, lost, lost_in_summary, options.on_unsupported == "drop", hindi_findings,
            )

        await self.text_workers.run(deadline, check)
        result.timings_ms.setdefault("translate", 0.0)
        result.timings_ms.setdefault("summarize", 0.0)
        result.timings_ms["total"] = round(split_ms + _ms_since(started), 1)
        return result

    async def process(
        self, articles: list[tuple[str, str]], options: JobOptions, deadline: Deadline | None = None
    ) -> list[ArticleResult]:
        """Every article validated first (nothing runs for a request with a bad one), then all concurrently."""
        with self.admission(options, deadline) as admit:
            admit([self.estimated_sentences(text) for _, text in articles])  # at once, before any text work
            cleaned = await self.clean_all(articles, "Deva", deadline, options)
            self.summary_engine.check_fits(len(cleaned))
            admit([sentence_count(layout, document) for _, layout, _, document in cleaned])  # the real counts
            jobs = [(article_id, *item) for (article_id, _), item in zip(articles, cleaned)]
            return await all_or_none(self.process_article(*job, options, deadline) for job in jobs)

    @contextmanager
    def admission(self, options: JobOptions, deadline: Deadline | None):
        """Admission control for one request: ``admit(sentence counts per text)`` refuses (``Overloaded``, 429)
        before any model work a request an engine predicts would finish after its deadline (its sentences, and its
        summaries' English sentences, on the translation engine; its articles on the summary engine), and reserves
        the work otherwise; leaving the block releases what was not queued."""
        engines = (self.translation_engine, self.summary_engine)

        def admit(sentence_counts: Sequence[int]) -> None:
            if deadline is None:
                return
            sentences = sum(sentence_counts) if options.translate else 0
            if "en" in options.summary_languages:
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
