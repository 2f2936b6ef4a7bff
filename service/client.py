"""Python client for the service, sync and async.

    from service.client import Client
    with Client("http://127.0.0.1:8000", api_key="…") as client:
        result = client.summarize(open("article.txt").read())  # its language detected; source_lang="bn" names it
        print(result.source_lang, result.summary_native, result.summary_en, result.translation_en)
        if result.needs_review:  # the service's checks found something (result.checks says what and where)
            ...

Retries 429 and 503 answers (honouring Retry-After) and transport errors with backoff; raises typed errors that
carry the service's error code, message and request id.
"""

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_STATUSES = (429, 503)
MAX_BACKOFF_S = 60.0  # the longest wait between two tries without a Retry-After


# --- errors -------------------------------------------------------------------------------------------------------
class ServiceError(Exception):
    """An error answer from the service (or no answer at all: status 0)."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.request_id = status, code, message, request_id


class AuthenticationError(ServiceError):
    """401 (no key) or 403 (key not accepted)."""


class InvalidRequest(ServiceError):
    """4xx other than auth and rate limits: the request itself must change (empty text, no Hindi, too long…)."""


class RateLimited(ServiceError):
    """429 still answered after every retry."""


class Unavailable(ServiceError):
    """503 (loading or shutting down) after every retry, or the service could not be reached."""


class ServerError(ServiceError):
    """5xx: the service failed on this input."""


def _error_from(response: httpx.Response) -> ServiceError:
    try:
        body = response.json()["error"]
        code, message, request_id = body["code"], body["message"], body.get("request_id")
    except (ValueError, KeyError, TypeError):
        code, message, request_id = "http_error", response.text[:200], response.headers.get("x-request-id")
    status = response.status_code
    kind = (
        AuthenticationError if status in (401, 403)
        else RateLimited if status == 429
        else Unavailable if status == 503
        else ServerError if status >= 500
        else InvalidRequest
    )  # fmt: skip
    return kind(status, code, message, request_id)


# --- results ------------------------------------------------------------------------------------------------------
@dataclass
class Reviewed:
    """The service's checks on a result: ``checks`` (findings: check, severity, where, span, text, detail) and
    ``review`` ("ok" or "needs_review": read the findings before publishing)."""

    checks: list[dict[str, Any]] = field(default_factory=list)
    review: str = "ok"

    @property
    def needs_review(self) -> bool:
        return self.review != "ok"

    @staticmethod
    def of(meta: dict | None) -> dict[str, Any]:
        meta = meta or {}
        return {"checks": meta.get("checks", []), "review": meta.get("review", "ok")}


@dataclass
class SummaryResult(Reviewed):
    id: str = ""
    summary_hi: str | None = None
    summary_en: str | None = None
    translation_en: str | None = None
    paragraphs_en: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, str | None] = field(default_factory=dict)  # every summary, keyed by ISO 639-1 ("bn", "en")
    source_lang: str | None = None  # the article's language (FLORES-200), named or detected

    @classmethod
    def from_json(cls, data: dict) -> "SummaryResult":
        translation = data.get("translation") or {}
        meta = data.get("meta", {})
        return cls(
            id=data["id"],
            summary_hi=data["summary"].get("hi"),
            summary_en=data["summary"].get("en"),
            translation_en=translation.get("en"),
            paragraphs_en=translation.get("paragraphs", []),
            meta=meta,
            summary=data["summary"],
            source_lang=meta.get("source_lang"),
            **Reviewed.of(meta),
        )

    @property
    def summary_native(self) -> str | None:
        """The summary in the article's own language (None where mT5 XL-Sum does not cover it): the answer's first
        summary key is that language's."""
        return next((text for key, text in self.summary.items() if key != "en"), None)


@dataclass
class TranslationResult(Reviewed):
    translation: str = ""
    paragraphs: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> "TranslationResult":
        return cls(translation=data["translation"], paragraphs=data["paragraphs"], **Reviewed.of(data.get("meta")))


def _glossary(glossary: str | None, glossary_entries) -> dict:
    """A stored glossary's name, or entries (a dict {source: target} or [{"source", "target"}]) sent along."""
    if isinstance(glossary_entries, dict):
        glossary_entries = [{"source": s, "target": t} for s, t in glossary_entries.items()]
    return ({"glossary": glossary} if glossary else {}) | ({"glossary_entries": glossary_entries}
                                                           if glossary_entries is not None else {})  # fmt: skip


# --- requests -----------------------------------------------------------------------------------------------------
def _summarize_request(articles, article_id=None, translate=True, summary_languages=("source", "en"), long_article=None,
                       translation_num_beams=None, summary_num_beams=None, cache=True, priority=None,
                       source_lang=None, glossary=None, glossary_entries=None, on_unsupported=None):  # fmt: skip
    """One text (with an optional id) → the single form; a list of texts or {"id", "text", "source_lang"?} dicts →
    the batch form (ids "1", "2", … where none is given). ``source_lang`` (FLORES-200 or ISO 639-1: "bn"): the
    article's language, or the batch's where an article names none; None: the service detects it. ``cache=False``: the
    service's translation memory is not used; ``priority="bulk"``: the service batches this behind live work;
    ``on_unsupported="drop"``: summary sentences with a figure or name the article lacks are removed."""
    options = {"translate": translate, "summary_languages": list(summary_languages)} | ({} if cache else {"cache": False})
    options |= ({"priority": priority} if priority else {}) | _glossary(glossary, glossary_entries)
    extra = {"long_article": long_article, "translation_num_beams": translation_num_beams,
             "summary_num_beams": summary_num_beams, "on_unsupported": on_unsupported}  # fmt: skip
    options |= {k: v for k, v in extra.items() if v is not None}
    language = {"source_lang": source_lang} if source_lang else {}
    if isinstance(articles, str):
        body = {"text": articles, "options": options} | ({"id": article_id} if article_id else {}) | language
        return "/summarize", body, SummaryResult.from_json
    items = [a if isinstance(a, dict) else {"id": str(i + 1), "text": a} for i, a in enumerate(articles)]
    body = {"articles": items, "options": options} | language
    return "/summarize", body, lambda d: [SummaryResult.from_json(r) for r in d["results"]]


def _translate_request(texts, source_lang="hin_Deva", num_beams=None, cache=True, glossary=None, glossary_entries=None):
    body = {"source_lang": source_lang} | ({"num_beams": num_beams} if num_beams else {}) | ({} if cache else {"cache": False})
    body |= _glossary(glossary, glossary_entries)
    if isinstance(texts, str):
        return "/translate", body | {"text": texts}, TranslationResult.from_json
    return "/translate", body | {"texts": list(texts)}, lambda d: [TranslationResult.from_json(t) for t in d["translations"]]


def _check_request(source, translation=None, summary_hi=None, summary_en=None, glossary=None, glossary_entries=None):
    summary = {k: v for k, v in (("hi", summary_hi), ("en", summary_en)) if v is not None}
    body = {"source": source} | ({"translation": translation} if translation is not None else {})
    body |= ({"summary": summary} if summary else {}) | _glossary(glossary, glossary_entries)
    return "/check", body, lambda d: Reviewed(d["checks"], d["review"])


class _Base:
    def __init__(self, url: str, api_key: str | None, timeout_s: float, retries: int, backoff_s: float):
        self.url = url.rstrip("/")
        # The service's deadline for each call is this client's timeout (it refuses at once, with 429, work it
        # predicts it could not finish in time, instead of answering after the client gave up).
        self.headers = {"X-Request-Timeout": f"{timeout_s:g}"} | ({"X-API-Key": api_key} if api_key else {})
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s

    def _outcome(self, attempt: int, response: httpx.Response | None, error: Exception | None):
        """(True, body) when done; (False, seconds to wait) to retry; raises when out of retries or not retryable."""
        if response is not None and response.status_code == 200:
            return True, response.json()
        last = attempt == self.retries
        if error is not None:
            if last:
                raise Unavailable(0, "unreachable", str(error)) from error
            return False, min(MAX_BACKOFF_S, self.backoff_s * (2**attempt)) * (0.5 + random.random())
        if response.status_code not in RETRY_STATUSES or last:
            raise _error_from(response)
        retry_after = response.headers.get("retry-after", "")
        return False, float(retry_after) if retry_after.isdigit() else min(MAX_BACKOFF_S, self.backoff_s * (2**attempt))


class Client(_Base):
    """Synchronous client; use as a context manager or call ``close()``."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 300, retries: int = 4, backoff_s: float = 0.5):
        super().__init__(url, api_key, timeout_s, retries, backoff_s)
        self._http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout_s)

    def _call(self, path: str, body: dict, parse):
        for attempt in range(self.retries + 1):
            response, error = None, None
            try:
                response = self._http.post(path, json=body)
            except httpx.TransportError as exc:
                error = exc
            done, value = self._outcome(attempt, response, error)
            if done:
                return parse(value)
            time.sleep(value)

    def summarize(self, articles: str | Iterable, **options):
        """One text → a SummaryResult; a list of texts (or {"id", "text", "source_lang"?} dicts) → a list, in order.
        Options: article_id (single text), source_lang (e.g. "bn"; default: detected), translate, summary_languages
        (default ["source", "en"]: the article's language and English), long_article, translation_num_beams,
        summary_num_beams, cache (False: the service's translation memory neither reads nor keeps the text), priority
        ("bulk": batched behind live work), glossary / glossary_entries, on_unsupported ("drop"). Each result has
        ``checks`` and ``review``."""
        return self._call(*_summarize_request(articles if isinstance(articles, str) else list(articles), **options))

    def translate(self, texts: str | Iterable[str], source_lang: str = "hin_Deva", num_beams: int | None = None,
                  cache: bool = True, glossary: str | None = None, glossary_entries=None):  # fmt: skip
        """One text → a TranslationResult; a list → a list, in order. ``glossary``: one of this key's glossaries by
        name; ``glossary_entries``: {source: target} sent with the request instead."""
        return self._call(*_translate_request(texts, source_lang, num_beams, cache, glossary, glossary_entries))

    def check(self, source: str, translation: str | None = None, summary_hi: str | None = None,
              summary_en: str | None = None, glossary: str | None = None, glossary_entries=None) -> Reviewed:  # fmt: skip
        """The service's checks over an article's translation and/or summaries (an editor's own text)."""
        return self._call(*_check_request(source, translation, summary_hi, summary_en, glossary, glossary_entries))

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncClient(_Base):
    """The same API with ``await``; use ``async with``."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 300, retries: int = 4, backoff_s: float = 0.5):
        super().__init__(url, api_key, timeout_s, retries, backoff_s)
        self._http = httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=timeout_s)

    async def _call(self, path: str, body: dict, parse):
        for attempt in range(self.retries + 1):
            response, error = None, None
            try:
                response = await self._http.post(path, json=body)
            except httpx.TransportError as exc:
                error = exc
            done, value = self._outcome(attempt, response, error)
            if done:
                return parse(value)
            await asyncio.sleep(value)

    async def summarize(self, articles: str | Iterable, **options):
        return await self._call(*_summarize_request(articles if isinstance(articles, str) else list(articles), **options))

    async def translate(self, texts: str | Iterable[str], source_lang: str = "hin_Deva", num_beams: int | None = None,
                        cache: bool = True, glossary: str | None = None, glossary_entries=None):  # fmt: skip
        return await self._call(*_translate_request(texts, source_lang, num_beams, cache, glossary, glossary_entries))

    async def check(self, source: str, translation: str | None = None, summary_hi: str | None = None,
                    summary_en: str | None = None, glossary: str | None = None, glossary_entries=None) -> Reviewed:  # fmt: skip
        return await self._call(*_check_request(source, translation, summary_hi, summary_en, glossary,
                                                glossary_entries))  # fmt: skip

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()
