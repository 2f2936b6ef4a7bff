"""Bulk summarization of a JSONL archive: ``python -m service summarize-file IN.jsonl -o OUT.jsonl``.

IN holds one article a line, ``{"id": "…", "text": "…", "source_lang"?: "…", …}`` (other fields are ignored; without
``source_lang`` the article's language is detected). A run has two passes:

1. Every line is read and checked, before any model loads: a line over ``SUMMARIZER_MAX_REQUEST_BYTES``, not UTF-8,
   not JSON, not an object, whose ``id`` is missing, empty, over 200 characters or not a string, or whose ``text`` is
   missing or not a string (the API's own rules: ``ArticleIn``), whose ``source_lang`` names no served language, and
   a second line with an id already used, goes to OUT's ``.errors.jsonl`` sibling with its line number and reason.
   Blank lines, a byte-order mark and CRLF line ends are fine. Ids already in OUT are skipped.
2. The rest is summarized (through a running service with ``--url``, or in this process with the configured
   models, loaded only when something is left to do). Each result is appended to OUT as one line, in the API's
   shape (``ArticleOut``, what ``POST /summarize`` answers), as soon as it is done, so a killed run loses nothing: a
   re-run skips the ids already in OUT (a half-written last line is dropped first). An article the service refuses
   goes to the errors file with the service's reason, and is tried again on the next run.

The errors file holds the latest run's failures, one ``{"id", "line", "status", "code", "message"}`` a line (``id``
is null where the line has none). The exit status is 1 when anything failed.
"""

import asyncio
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from pydantic import ConfigDict, ValidationError
from tqdm import tqdm

from .api.errors import _describe as describe_invalid
from .api.schemas import MAX_ID_CHARS, ArticleIn, ArticleOut
from .errors import UnsupportedLanguage
from .text.language import normalize_language_code

BOM = b"\xef\xbb\xbf"
BULK_RETRIES = 120  # tries of one article while the service answers 429 (Retry-After is at most 60 s)
JSON_KINDS = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}


class ArchiveLine(ArticleIn):
    """One line of IN: an article as the API takes it, with the archive's other fields (topic, url…) ignored."""

    model_config = ConfigDict(extra="ignore")


@dataclass
class Problem:
    """A line or an article that failed: one line of the errors file."""

    id: str | None
    line: int
    status: int
    code: str
    message: str

    def record(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class Counts:
    done: int = 0
    failed: int = 0
    skipped: int = 0

    def line(self) -> str:
        return f"done {self.done}, failed {self.failed}, skipped {self.skipped}"


class BulkFailure(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- reading IN -----------------------------------------------------------------------------------------------------
def _raw_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[bytes | None]:
    """Each line's bytes, or None for a line over ``max_line_bytes`` (its end not counted), which is passed over
    without being held: memory stays within the bound whatever the file holds. Only b"\\n" ends a line."""
    limit = max_line_bytes + 2  # room for "\r\n"
    while line := stream.readline(limit):
        if len(line) == limit and not line.endswith(b"\n"):  # longer still: skip to its end
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 20)
            yield None
        else:
            yield line if len(line.rstrip(b"\r\n")) <= max_line_bytes else None


def parse_line(number: int, raw: bytes | None, max_line_bytes: int) -> ArchiveLine | Problem | None:
    """One line of IN → its article, the reason it is not one, or None for a blank line."""
    if raw is None:
        return Problem(None, number, 413, "request_too_large",
                       f"the line is over {max_line_bytes} bytes (SUMMARIZER_MAX_REQUEST_BYTES); not read")  # fmt: skip
    raw = raw.removeprefix(BOM).strip(b" \t\r\n")  # a BOM (also where files were concatenated), CRLF, blank lines
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(None, number, 400, "malformed_json", f"not UTF-8 text: {exc.reason} at byte {exc.start + 1}")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deep"
        return Problem(None, number, 400, "malformed_json", f"not JSON: {reason}")
    if not isinstance(value, dict):
        kind = JSON_KINDS.get(type(value), "a number")
        message = f'a line must be a JSON object {{"id", "text"}}, not {kind}'
        return Problem(None, number, 422, "invalid_request", message)
    try:
        return ArchiveLine.model_validate(value)
    except ValidationError as exc:
        given = value.get("id")
        known = given if isinstance(given, str) and 0 < len(given) <= MAX_ID_CHARS else None
        return Problem(known, number, *describe_invalid(exc))  # the API's answer to the same article


def read_archive(stream: BinaryIO, max_line_bytes: int) -> Iterator[tuple[int, ArchiveLine | Problem]]:
    """IN's non-blank lines, numbered from 1 as an editor numbers them, each an article or a problem."""
    for number, raw in enumerate(_raw_lines(stream, max_line_bytes), start=1):
        if (item := parse_line(number, raw, max_line_bytes)) is not None:
            yield number, item


def scan(lines: Iterable[tuple[int, ArchiveLine | Problem]], done: set[str], report: Callable[[Problem], None],
         counts: Counts, max_code_chars: int) -> list[int]:  # fmt: skip
    """The first pass: every problem reported (a second line with an id already used is one: its article would be
    lost; a source_lang no served language has is one), ids in ``done`` counted as skipped; returns the numbers of
    the lines left to summarize."""
    todo, first_line = [], {}
    for number, item in lines:
        if isinstance(item, ArchiveLine) and (first := first_line.setdefault(item.id, number)) != number:
            message = f"the id is already used on line {first}; ids must be unique, this line is not summarized"
            item = Problem(item.id, number, 422, "duplicate_id", message)
        elif isinstance(item, ArchiveLine) and item.source_lang is not None:
            try:
                normalize_language_code(item.source_lang, max_code_chars)
            except UnsupportedLanguage as exc:
                item = Problem(item.id, number, 422, exc.code, f"source_lang: {exc.message}")
        if isinstance(item, Problem):
            report(item)
            counts.failed += 1
        elif item.id in done:
            counts.skipped += 1
        else:
            todo.append(number)
    return todo


def todo_articles(stream: BinaryIO, todo: set[int], max_line_bytes: int) -> Iterator[tuple[int, ArchiveLine]]:
    """The second pass: the articles of the lines the first pass chose (IN must not change in between)."""
    for number, item in read_archive(stream, max_line_bytes):
        if number in todo and isinstance(item, ArchiveLine):
            yield number, item


def completed_ids(out_path: Path) -> set[str]:
    """Ids already in OUT; a trailing partial line (a run killed mid-write) is cut off first."""
    ids = set()
    if not out_path.exists():
        return ids
    with out_path.open("r+b") as out:
        for number, line in enumerate(iter(out.readline, b""), start=1):
            if not line.endswith(b"\n"):
                out.truncate(out.tell() - len(line))
                break
            try:
                ids.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError, RecursionError):  # a disk error, a hand edit: redone
                if line.strip():
                    print(f"warning: {out_path}:{number} is not a result line; skipped", file=sys.stderr)
    return ids


# --- summarizing ----------------------------------------------------------------------------------------------------
def _http_worker(url: str, api_key: str | None):
    from .client import AsyncClient, ServiceError, _summarize_request

    # Bulk work waits its turn: a 429 is waited out (Retry-After) for up to about two hours, not given up on.
    client = AsyncClient(url, api_key=api_key, retries=BULK_RETRIES)

    async def summarize(article_id: str, text: str, source_lang: str | None) -> ArticleOut:
        path, body, _ = _summarize_request(text, article_id=article_id, priority="bulk", source_lang=source_lang)
        try:
            return await client._call(path, body, ArticleOut.model_validate)  # the answer as it came
        except ServiceError as exc:
            raise BulkFailure(exc.status, exc.code, exc.message) from None

    return summarize, client.aclose


def in_process_worker():
    from .api.errors import STATUS
    from .api.routes import article_out
    from .config import Settings
    from .errors import ServiceError
    from .pipeline import JobOptions
    from .runtime import build_runtime

    settings = Settings()
    runtime = build_runtime(settings)

    async def summarize(article_id: str, text: str, source_lang: str | None) -> ArticleOut:
        try:
            named = source_lang is not None
            lang = normalize_language_code(source_lang, settings.max_language_code_chars) if named else None
            options = JobOptions(priority="bulk", source_langs=(lang,))
            [result] = await waiting_out_overload(lambda: runtime.pipeline.process([(article_id, text)], options))
        except ServiceError as exc:
            raise BulkFailure(STATUS.get(type(exc), 500), exc.code, exc.message) from None
        return article_out(result, runtime)

    async def close():
        runtime.close()

    return summarize, close


async def waiting_out_overload(work, attempts: int = BULK_RETRIES):
    """``await work()``; while the engines are full (``Overloaded``), wait the Retry-After and try again: archive
    work waits its turn behind live requests instead of failing (``attempts`` bounds the wait)."""
    from .errors import Overloaded

    for attempt in range(attempts):
        try:
            return await work()
        except Overloaded as exc:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(exc.retry_after_s)


async def outcome(summarize, number: int, article_id: str, text: str, source_lang: str | None) -> tuple[str, str]:
    """(result line, "") or ("", error line): one article's outcome, never an exception (no lost article)."""
    try:
        result = await summarize(article_id, text, source_lang)
    except BulkFailure as exc:
        problem = Problem(article_id, number, exc.status, exc.code, exc.message)
    except Exception as exc:  # noqa: BLE001 - a bug must not take the other articles down with it
        problem = Problem(article_id, number, 500, "internal_error", f"{type(exc).__name__}: {exc}")
    else:
        return result.model_dump_json(), ""
    return "", problem.record()


class Outputs:
    """OUT (appended to: results survive a killed run), the errors file (this run's failures), the counts and the
    progress bar."""

    def __init__(self, out_path: Path):
        self.counts = Counts()
        self.out = out_path.open("a", encoding="utf-8")
        self.errors = out_path.with_suffix(".errors.jsonl").open("w", encoding="utf-8")
        self.bar = None

    def problem(self, problem: Problem) -> None:
        self.errors.write(problem.record() + "\n")

    def start(self, total: int) -> None:
        self.errors.flush()
        self.bar = tqdm(total=total, unit="article", desc="summarizing", file=sys.stderr)

    def outcome(self, result: str, error: str) -> None:
        if result:
            self.out.write(result + "\n")
            self.out.flush()
            self.counts.done += 1
        else:
            self.errors.write(error + "\n")
            self.errors.flush()
            self.counts.failed += 1
        self.bar.update(1)

    def __enter__(self) -> "Outputs":
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
        self.out.close()
        self.errors.close()


def plan(in_stream: BinaryIO, out_path: Path, outputs: Outputs, max_line_bytes: int, max_code_chars: int) -> set[int]:
    """The first pass over IN, against what OUT already holds: the line numbers left to summarize."""
    lines = read_archive(in_stream, max_line_bytes)
    todo = scan(lines, completed_ids(out_path), outputs.problem, outputs.counts, max_code_chars)
    outputs.start(len(todo))
    return set(todo)


async def run(in_path: Path, out_path: Path, url: str | None, concurrency: int, api_key: str | None) -> Counts:
    from .config import Settings

    settings = Settings()
    max_line_bytes = settings.max_request_bytes
    with in_path.open("rb") as source, Outputs(out_path) as outputs:
        todo = plan(source, out_path, outputs, max_line_bytes, settings.max_language_code_chars)
        if not todo:
            return outputs.counts  # nothing to load the models for
        summarize, close = _http_worker(url, api_key) if url else in_process_worker()
        running = set()
        try:
            source.seek(0)
            for number, article in todo_articles(source, todo, max_line_bytes):
                if len(running) >= concurrency:  # at most ``concurrency`` articles read and in flight
                    finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    for task in finished:
                        outputs.outcome(*task.result())
                work = outcome(summarize, number, article.id, article.text, article.source_lang)
                running.add(asyncio.ensure_future(work))
            for result in await asyncio.gather(*running):
                outputs.outcome(*result)
        finally:
            for task in running:
                task.cancel()
            await close()
    return outputs.counts


def finish(work: Callable[[], Counts]) -> int:
    """Runs an archive, either way (``work()`` → its counts): the closing line and the exit status."""
    from .errors import ModelFilesMissing

    try:
        counts = work()
    except OSError as exc:  # IN missing, OUT's folder missing, a full disk: one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModelFilesMissing as exc:  # what is missing and the command that fetches it, as serve says
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(counts.line())
    return 0 if counts.failed == 0 else 1


def summarize_file(in_path: Path, out_path: Path, url: str | None, concurrency: int, api_key: str | None) -> int:
    return finish(lambda: asyncio.run(run(in_path, out_path, url, concurrency, api_key)))
