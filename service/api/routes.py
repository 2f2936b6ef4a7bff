"""The HTTP endpoints. They decode requests, hand them to the pipeline and encode its results; nothing else."""

import asyncio
import math
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import logging
import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from .. import review
from ..config import backend_of
from ..errors import (
    ArticleTooLong,
    DeadlineExceeded,
    InvalidRequest,
    ModelNotReady,
    QuotaExceeded,
    ShuttingDown,
    UnsupportedLanguage,
)
from ..glossaries import AppliedGlossary, Limits, resolve
from ..pipeline import ENGLISH, SOURCE, ArticleResult, JobOptions, sentence_count
from ..text.indic_processing import check_language_pair
from ..text.language import LANGUAGES, normalize_language_code
from ..workers import Deadline, all_or_none
from . import schemas

router = APIRouter()
TIMEOUT_VALUE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")  # seconds, plain ASCII decimal
STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger(__name__)
ERRORS = {
    status: {"model": schemas.ErrorOut, "description": text}
    for status, text in {
        400: "malformed JSON",
        413: "body, article or batch over its limit",
        415: "body is not JSON",
        422: "invalid fields, empty text, or a language the service does not serve",
        429: "queue full; retry after Retry-After seconds",
        503: "models not loaded yet, or shutting down",
        504: "the request deadline passed",
    }.items()
}

try:
    VERSION = version("hindi-news-service")
except PackageNotFoundError:  # running from a source tree without installing
    VERSION = "0.1.0"


def charge(request: Request, texts) -> None:
    """Count a request's characters against its key (metrics by key name; 429 ``quota_exceeded`` past the key's
    daily quota, with the time to its reset). Counted on arrival, before any work."""
    state = request.scope.get("state", {})
    name, limit = state.get("key_name"), state.get("daily_chars")
    if name is None:
        return
    chars = sum(len(t) for t in texts)
    metrics = request.app.state.metrics
    metrics.key_requests.labels(name).inc()
    if limit is not None and (wait := request.app.state.quotas.charge(name, limit, chars)) > 0:
        reset = datetime.fromtimestamp(time.time() + wait, timezone.utc).isoformat(timespec="seconds")
        raise QuotaExceeded(f"the daily quota of {limit} characters for key {name!r} is spent; it resets at {reset}",
                            max(1, math.ceil(wait)))  # fmt: skip
    metrics.key_chars.labels(name).inc(chars)


def memory_scope(key_name: str | None) -> str:
    """The caller's part of the translation memory: its API key's name; an open service (no keys) has one."""
    return f"key:{key_name}" if key_name else "open"


def _key_name(request: Request) -> str | None:
    return request.scope.get("state", {}).get("key_name")


async def glossary_of(state, asked: schemas.WithGlossary, key_name: str | None) -> AppliedGlossary | None:
    """The glossary a request asks for (one of its key's by name, or entries sent with it), checked and indexed off
    the event loop: 404 ``glossary_not_found``, 413 ``glossary_too_large``, 422 ``invalid_glossary``. ``state``: the
    app's (or the job runner: its ``settings`` and ``glossaries``)."""
    if asked.glossary is None and asked.glossary_entries is None:
        return None
    entries = None if asked.glossary_entries is None else [(e.source, e.target) for e in asked.glossary_entries]
    return await asyncio.to_thread(resolve, state.glossaries, Limits.of(state.settings), memory_scope(key_name),
                                   asked.glossary, entries)  # fmt: skip


def _runtime(request: Request):
    state = request.app.state
    if state.shutting_down:
        raise ShuttingDown("the service is shutting down; retry on another replica")
    if not state.ready:
        raise ModelNotReady("the models are still loading; retry when /readyz answers 200")
    return state.runtime


def request_timeout_s(request: Request) -> float:
    """The request's deadline in seconds: ``X-Request-Timeout`` when the caller sends one (the Python client sends
    its own timeout), capped by ``REQUEST_TIMEOUT_S``; a value that is not a positive number is a 422."""
    limit = request.app.state.settings.request_timeout_s
    header = request.headers.get("x-request-timeout")
    if header is None:
        return limit
    value = header.strip()
    asked = float(value) if TIMEOUT_VALUE.fullmatch(value) else 0.0
    if asked <= 0:
        raise InvalidRequest(f"X-Request-Timeout must be a positive number of seconds (at most {limit:g}), not "
                             f"{header[:32]!r}", "invalid_request_timeout")  # fmt: skip
    return min(asked, limit)


async def _run(request: Request, work):
    """Run ``work(deadline)`` under the request deadline. A request past its deadline, or whose caller hung up, is
    abandoned: its queued model work is dropped and its text work stops at the next sentence."""
    timeout_s = request_timeout_s(request)
    # Engines share batches between callers: API keys by name, an open service's callers by address.
    deadline = Deadline(timeout_s, _key_name(request) or request.scope.get("state", {}).get("caller", ""))
    task = asyncio.ensure_future(work(deadline))
    request.app.state.request_tasks.add(task)

    async def watch_disconnect():
        while not task.done():
            if await request.is_disconnected():
                task.cancel()
                return
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch_disconnect())
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            task.cancel()
            raise DeadlineExceeded(f"not finished within {timeout_s:g} s; its queued work was dropped")
        if task.cancelled():
            if request.app.state.shutting_down:
                raise ShuttingDown("the service shut down before this request finished; retry on another replica")
            return JSONResponse({"error": {"code": "client_closed", "message": "client disconnected"}}, 499)
        return task.result()
    finally:
        deadline.abandon()  # whatever still runs for this request stops at its next check
        request.app.state.request_tasks.discard(task)
        watcher.cancel()


def article_out(result: ArticleResult, runtime) -> schemas.ArticleOut:
    translation = None
    if result.translation_en is not None:
        translation = schemas.Translation(en=result.translation_en, paragraphs=result.paragraphs_en or [],
                                          html=result.translation_html)  # fmt: skip
    detection = result.language.detection
    return schemas.ArticleOut(
        id=result.id,
        summary=result.summaries,
        translation=translation,
        meta=schemas.ArticleMeta(
            source_lang=result.language.code,
            language_detection=detection and schemas.LanguageDetection(lang=detection.lang,
                                                                       confidence=detection.confidence),
            unavailable_summaries=result.unavailable_summaries,
            models=runtime.model_info(),
            device=str(runtime.device),
            dtype=runtime.dtypes,
            input_tokens=result.input_tokens,
            truncated=result.truncated,
            timings_ms=schemas.Timings(**result.timings_ms),
            cache=schemas.CacheUse(**asdict(result.cache)),
            **review.as_meta(result.review, runtime.settings.max_findings),
        ),
    )


@router.post(
    "/summarize",
    response_model=schemas.ArticleOut | schemas.SummarizeBatchOut,
    responses=ERRORS,
    summary="Translate an Indic-language article into English and summarize it in its language and in English",
)
async def summarize(body: schemas.SummarizeRequest, request: Request):
    settings = request.app.state.settings
    runtime = _runtime(request)
    articles, options = summarize_work(body, settings, key_name=_key_name(request))
    options = replace(options, glossary=await glossary_of(request.app.state, body.options, _key_name(request)))
    charge(request, [text for _, text in articles])
    if settings.log_article_text:
        log.info("articles", extra={"request_id": request.state.request_id, "articles": articles})
    results = await _run(request, lambda deadline: runtime.pipeline.process(articles, options, deadline))
    if isinstance(results, JSONResponse):
        return results
    return summarize_out(body, results, runtime, request.app.state.metrics)


def summarize_work(body: schemas.SummarizeRequest, settings, priority: str | None = None, key_name: str | None = None):
    """A /summarize body (or a job's, with the job's ``priority``) of the caller with ``key_name`` → the pipeline's
    articles and options; too many articles → 413."""
    if body.articles is not None and len(body.articles) > settings.max_articles_per_request:
        raise ArticleTooLong(
            f"{len(body.articles)} articles in one request; the limit is {settings.max_articles_per_request}"
        )
    articles = [(a.id, a.text) for a in body.articles] if body.articles else [(body.id or "article-1", body.text)]
    o = body.options
    max_chars = settings.max_language_code_chars
    options = JobOptions(
        translate=o.translate,
        summary_languages=tuple(summary_key(code, max_chars) for code in o.summary_languages),
        long_article=o.long_article or settings.long_article_policy,
        translation_num_beams=o.translation_num_beams,
        summary_num_beams=o.summary_num_beams,
        cache=o.cache,
        priority=priority or o.priority,
        format=o.format,
        html_attributes=o.html_attributes,
        cache_scope=memory_scope(key_name),
        source_langs=named_languages(body, max_chars),
        on_unsupported=o.on_unsupported,
    )
    return articles, options


def named_languages(body: schemas.SummarizeRequest, max_chars: int) -> tuple[str | None, ...]:
    """Each article's source_lang (its own, else the request's) as a FLORES-200 code, None where none is named;
    ``UnsupportedLanguage`` (422) for a code that names no served language, naming the article in a batch."""
    if body.articles is None:
        return (_served(body.source_lang, max_chars, ""),)
    return tuple(_served(a.source_lang or body.source_lang, max_chars, f"article {a.id}: ") for a in body.articles)


def _served(code: str | None, max_chars: int, where: str) -> str | None:
    try:
        return None if code is None else normalize_language_code(code, max_chars)
    except UnsupportedLanguage as exc:
        raise UnsupportedLanguage(f"{where}source_lang: {exc.message}") from None


def summary_key(code: str, max_chars: int) -> str:
    """One entry of summary_languages as the answer's key: "source", "en", or a served language's ISO code (from any
    code ``normalize_language_code`` takes)."""
    if code.lower() in (SOURCE, ENGLISH):
        return code.lower()
    try:
        return LANGUAGES[normalize_language_code(code, max_chars)].iso
    except UnsupportedLanguage as exc:
        raise UnsupportedLanguage(f'summary_languages: {exc.message}; or "source" or "en"') from None


def summarize_out(body: schemas.SummarizeRequest, results: list[ArticleResult], runtime, metrics):
    """What /summarize answers (and a job's result holds): one article, or ``{"results": [...]}``."""
    for result in results:
        metrics.observe_stages(result.timings_ms)
        metrics.observe_language(result.language, result.timings_ms["total"])
    out = [article_out(r, runtime) for r in results]
    return out[0] if body.articles is None else schemas.SummarizeBatchOut(results=out)


@router.post("/translate", response_model=schemas.TranslateOut, responses=ERRORS, summary="Translate text into English")
async def translate(body: schemas.TranslateRequest, request: Request):
    settings = request.app.state.settings
    try:
        check_language_pair(body.source_lang, body.target_lang)
    except ValueError as exc:
        raise UnsupportedLanguage(str(exc)) from None
    runtime = _runtime(request)
    texts = body.texts if body.texts is not None else [body.text]
    if len(texts) > settings.max_texts_per_request:
        raise ArticleTooLong(f"{len(texts)} texts in one request; the limit is {settings.max_texts_per_request}")
    glossary = await glossary_of(request.app.state, body, _key_name(request))
    charge(request, texts)
    pipeline = runtime.pipeline
    scope = memory_scope(_key_name(request))
    options = JobOptions(summary_languages=(), format=body.format, html_attributes=body.html_attributes)

    async def one(source, layout, document, deadline) -> schemas.TranslationOut:
        lost, html = [], None
        if document is None:
            text, paragraphs = await pipeline.translate_layout(layout, body.source_lang, body.num_beams, deadline,
                                                               body.cache, scope, glossary=glossary, lost=lost)  # fmt: skip
        else:
            text, paragraphs, html = await pipeline.translate_document(document, body.source_lang, body.num_beams,
                                                                       deadline, body.cache, scope=scope,
                                                                       glossary=glossary, lost=lost)  # fmt: skip
        report = await pipeline.text_workers.run(deadline, review.review_translation, source, text, paragraphs,
                                                 glossary, lost, body.source_lang)  # fmt: skip
        return schemas.TranslationOut(translation=text, paragraphs=paragraphs, html=html, meta=review.as_meta(report, settings.max_findings))

    async def work(deadline):
        labelled = [(str(i), t) for i, t in enumerate(texts)]
        with pipeline.admission(options, deadline) as admit:
            admit([pipeline.estimated_sentences(text) for text in texts])  # at once, before any text work
            cleaned = await pipeline.clean_all(labelled, [body.source_lang] * len(texts), deadline, options)
            admit([sentence_count(c.layout, c.document) for c in cleaned])
            for c in cleaned:
                request.app.state.metrics.observe_language(c.language)
            return await all_or_none(one(c.text, c.layout, c.document, deadline) for c in cleaned)

    results = await _run(request, work)
    if isinstance(results, JSONResponse):
        return results
    common = {"source_lang": body.source_lang, "target_lang": body.target_lang}
    if body.text is not None:
        return schemas.TranslateOut(**results[0].model_dump(), **common)
    return schemas.TranslateOut(translations=results, **common)


@router.get("/", include_in_schema=False)
async def editor_page():
    """The editor's page (static HTML; the API key, if any, is entered there and sent with each request)."""
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/languages", summary="The languages served: codes, names, and which summaries each gets")
async def languages():
    """Open like /healthz (no key): the editor's page fills its language choice from it."""
    return {"languages": [
        {"code": code, "iso": language.iso, "name": language.name, "script": language.script,
         "summaries": {language.iso: "mT5 XL-Sum" if language.xlsum else None,
                       ENGLISH: "the native summary, translated by IndicTrans2" if language.xlsum
                       else "mT5 XL-Sum's summary of the English translation"}}
        for code, language in LANGUAGES.items()
    ]}  # fmt: skip


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request):
    # In a thread: the translation memory's size gauge may ask Redis.
    body = await asyncio.to_thread(request.app.state.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/healthz", summary="The process is alive")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz", summary="200 once both models are loaded and warm (and whether /jobs works), 503 before and "
            "while shutting down")
async def readyz(request: Request):
    state = request.app.state
    if state.shutting_down:
        return JSONResponse({"error": {"code": "shutting_down", "message": "shutting down"}}, 503)
    if state.load_error is not None:
        message = getattr(state.load_error, "message", str(state.load_error))
        return JSONResponse({"error": {"code": "load_failed", "message": message}}, 503)
    if not state.ready:
        return JSONResponse({"error": {"code": "not_ready", "message": "models are loading"}}, 503)
    return {"status": "ready", "jobs": state.jobs.availability()}  # /jobs may be unavailable while the rest serves


# Load balancers probe with HEAD too.
router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)


@router.get("/info", summary="Models, revisions, device, dtype, limits and version")
async def info(request: Request):
    settings = request.app.state.settings
    runtime = request.app.state.runtime
    return {
        "version": VERSION,
        "ready": request.app.state.ready,
        "models": runtime.model_info() if runtime else None,
        "device": str(runtime.device) if runtime else None,
        "dtype": runtime.dtypes if runtime else None,
        "limits": {
            "max_article_chars": settings.max_article_chars,
            "max_articles_per_request": settings.max_articles_per_request,
            "max_texts_per_request": settings.max_texts_per_request,
            "max_request_bytes": settings.max_request_bytes,
            "request_timeout_s": settings.request_timeout_s,
            "max_queued_items": settings.max_queued_items,
            "summary_input_tokens": settings.summary_input_tokens,
            "max_html_attributes_per_element": settings.max_html_attributes_per_element,
            "max_html_attributes": settings.max_html_attributes,
        },
        "decoding": {
            "translation_num_beams": settings.translation_num_beams,
            "summary_num_beams": settings.summary_num_beams,
            "long_article_policy": settings.long_article_policy,
            "decoder": runtime.decoder if runtime else settings.decoder,  # of the models on torch ("auto" resolved)
            # What runs (the default CTranslate2 falls back to torch on a read-only model store).
            "translation_backend": backend_of(runtime.dtypes["translation"]) if runtime else settings.translation_backend,
            "summary_backend": backend_of(runtime.dtypes["summarization"]) if runtime else settings.summary_backend,
            "cpu_gemm": runtime.cpu_gemm if runtime else None,  # per model on torch on a CPU: onednn or default
        },
        # Admission: work predicted to finish after its deadline is refused with 429 (docs/OPERATIONS.md).
        "engines": {engine.name: engine.load() for engine in runtime.engines} if runtime else None,
    }
