"""Bulk summarization of a JSONL archive: ``python -m service summarize-file IN.jsonl -o OUT.jsonl``.

Each input line is ``{"id", "text", …}``. Each result is appended to OUT as one line (``client.SummaryResult``) as
soon as it is done, so a killed run loses nothing: a re-run skips the ids already in OUT (a half-written last line
is dropped first). Failures go to OUT's ``.errors.jsonl`` sibling with their reason, and are tried again next run.
Through a running service with ``--url``, or in this process with the configured models.
"""

import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from .client import SummaryResult


@dataclass
class Counts:
    done: int = 0
    failed: int = 0
    skipped: int = 0

    def line(self) -> str:
        return f"done {self.done}, failed {self.failed}, skipped {self.skipped}"


def completed_ids(out_path: Path) -> set[str]:
    """Ids already in OUT; a trailing partial line (a run killed mid-write) is cut off first."""
    if not out_path.exists():
        return set()
    data = out_path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        out_path.write_bytes(data)
    ids = set()
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        try:
            ids.add(str(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):  # a corrupt line (a disk error, a hand edit): its article is redone
            if line.strip():
                print(f"warning: {out_path}:{number} is not a result line; skipped", file=sys.stderr)
    return ids


def read_articles(in_path: Path, done: set[str], counts: Counts) -> list[tuple[str, str]]:
    todo, seen = [], set(done)
    for number, line in enumerate(in_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        article_id = str(item.get("id") or f"line-{number}")
        if article_id in seen:
            counts.skipped += 1
            continue
        seen.add(article_id)
        todo.append((article_id, item["text"]))
    return todo


def _http_worker(url: str, api_key: str | None):
    from .client import AsyncClient, ServiceError

    client = AsyncClient(url, api_key=api_key)

    async def summarize(article_id: str, text: str) -> SummaryResult:
        try:
            return await client.summarize(text, article_id=article_id, priority="bulk")  # behind live work
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

    runtime = build_runtime(Settings())

    async def summarize(article_id: str, text: str) -> SummaryResult:
        try:
            [result] = await runtime.pipeline.process([(article_id, text)], JobOptions(priority="bulk"))
        except ServiceError as exc:
            raise BulkFailure(STATUS.get(type(exc), 500), exc.code, exc.message) from None
        return SummaryResult.from_json(article_out(result, runtime).model_dump(mode="json"))

    async def close():
        runtime.close()

    return summarize, close


class BulkFailure(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def run(in_path: Path, out_path: Path, url: str | None, concurrency: int, api_key: str | None) -> Counts:
    counts = Counts()
    todo = read_articles(in_path, completed_ids(out_path), counts)
    errors_path = out_path.with_suffix(".errors.jsonl")
    summarize, close = _http_worker(url, api_key) if url else in_process_worker()
    limit = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(todo), unit="article", desc="summarizing", file=sys.stderr)
    with out_path.open("a", encoding="utf-8") as out, errors_path.open("a", encoding="utf-8") as errors:

        async def one(article_id: str, text: str):
            async with limit:
                try:
                    result = await summarize(article_id, text)
                except BulkFailure as exc:
                    record = {"id": article_id, "status": exc.status, "code": exc.code, "message": exc.message}
                    errors.write(json.dumps(record, ensure_ascii=False) + "\n")
                    errors.flush()
                    counts.failed += 1
                else:
                    out.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
                    out.flush()
                    counts.done += 1
                bar.update(1)

        try:
            await asyncio.gather(*(one(i, t) for i, t in todo))
        finally:
            bar.close()
            await close()
    return counts


def summarize_file(in_path: Path, out_path: Path, url: str | None, concurrency: int, api_key: str | None) -> int:
    counts = asyncio.run(run(in_path, out_path, url, concurrency, api_key))
    print(counts.line())
    return 0 if counts.failed == 0 else 1
