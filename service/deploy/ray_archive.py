"""A whole archive on a Ray cluster: ``python -m service summarize-file IN.jsonl -o OUT.jsonl --ray ADDRESS``.

The same work, checks and files as the local command (service/bulk.py). This process (the driver) reads IN once and
checks every line before anything starts on the cluster (bad lines go to ``OUT.errors.jsonl`` with their number; ids
already in OUT are skipped; when nothing is left, no model loads). The lines left are read again as Ray Data
(``ArchiveLines``) and go through ``map_batches`` over a pool of actors, each holding our runtime (both models, its
own schedulers, which pool the sentences of a batch's articles) — one actor per GPU, or ``--ray-actors`` CPU actors.
The driver writes every result to OUT (in the API's shape) as it streams back, so a killed run loses nothing and a
re-run skips what is done; an article the service refuses goes to the errors file with its reason.

IN must be one file readable here and by every node (a shared file system or ``s3://…``); OUT is written here. The
actors read their settings from the ``SUMMARIZER_*`` variables of this process (passed in the job's ``runtime_env``).
"""

import asyncio
import io
import logging
import os
import sys
from pathlib import Path

import pyarrow.fs  # comes with ray[data]
import ray
from ray.data.datasource import FileBasedDatasource

from ..bulk import Counts, Outputs, finish, in_process_worker, outcome, plan, todo_articles
from ..config import Settings

# Reads ask for a sliver of a CPU: with whole-CPU actors on a small cluster, tasks asking for a full CPU would wait
# for ever behind them (Ray Data then stalls without a word).
LIGHT_TASK_CPUS = 0.1
ROWS_PER_BLOCK = 64  # articles read before they flow on to the actors


class ArchiveLines(FileBasedDatasource):
    """The lines of IN that the driver's first pass chose, as rows ``{"line", "id", "text", "source_lang"}`` (an
    empty source_lang: none named): read and parsed as the local command does, one line at a time."""

    def __init__(self, path: str, todo: set[int], max_line_bytes: int):
        super().__init__(path)
        self.todo, self.max_line_bytes = todo, max_line_bytes

    def _read_stream(self, f: "pyarrow.NativeFile", path: str):
        rows = []
        for number, article in todo_articles(io.BufferedReader(f), self.todo, self.max_line_bytes):
            lang = article.source_lang or ""
            rows.append({"line": number, "id": article.id, "text": article.text, "source_lang": lang})
            if len(rows) == ROWS_PER_BLOCK:
                yield pyarrow.Table.from_pylist(rows)
                rows = []
        if rows:
            yield pyarrow.Table.from_pylist(rows)


class ArchiveActor:
    """One per GPU (or CPU share): builds the runtime once, then summarizes a batch of articles concurrently."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.summarize, _ = self.loop.run_until_complete(self._start())  # nothing to close: the process ends with the job

    @staticmethod
    async def _start():
        return in_process_worker()  # inside the loop: the schedulers' tasks belong to it

    def __call__(self, batch: dict) -> dict:
        results = self.loop.run_until_complete(self._all(batch))
        return {"result": [r for r, _ in results], "error": [e for _, e in results]}

    async def _all(self, batch: dict) -> list[tuple[str, str]]:
        rows = zip(batch["line"], batch["id"], batch["text"], batch["source_lang"])
        return await asyncio.gather(*(outcome(self.summarize, int(n), str(i), str(t), str(lang) or None)
                                      for n, i, t, lang in rows))  # fmt: skip


def _settings_env() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith(("SUMMARIZER_", "HF_", "TRANSLATION_"))}


def _open(uri: str) -> io.BufferedReader:
    """IN from here, through the file systems Ray reads it with (local, s3://…; compression from the extension)."""
    filesystem, path = pyarrow.fs.FileSystem.from_uri(uri)
    return io.BufferedReader(filesystem.open_input_stream(path))


def run_on_ray(in_path: str, out_path: Path, address: str, actors: int | None, actor_cpus: float,
               actor_gpus: float | None, batch_size: int) -> Counts:  # fmt: skip
    uri = in_path if "://" in in_path else str(Path(in_path).resolve())
    settings = Settings()
    max_line_bytes = settings.max_request_bytes
    with _open(uri) as source, Outputs(out_path) as outputs:
        todo = plan(source, out_path, outputs, max_line_bytes, settings.max_language_code_chars)
        if not todo:
            return outputs.counts  # nothing to start actors (and load models) for
        ray.init(address=address, runtime_env={"env_vars": _settings_env()}, logging_level=logging.WARNING)
        try:
            gpus = int(ray.cluster_resources().get("GPU", 0))
            if actor_gpus is None:
                actor_gpus = 1 if gpus else 0
            if actors is None:
                actors = max(1, int(gpus // actor_gpus)) if actor_gpus else 1
            dataset = ray.data.read_datasource(ArchiveLines(uri, todo, max_line_bytes), num_cpus=LIGHT_TASK_CPUS)
            dataset = dataset.map_batches(ArchiveActor, batch_size=batch_size, concurrency=actors, num_cpus=actor_cpus,
                                          num_gpus=actor_gpus, batch_format="numpy")  # fmt: skip
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                for result, error in zip(batch["result"], batch["error"]):
                    outputs.outcome(result, error)
        finally:
            ray.shutdown()
    return outputs.counts


def summarize_file_on_ray(args) -> int:
    """``summarize-file --ray``: the exit status and the closing line of the local command."""
    if args.url:
        print("error: --ray and --url are two ways to run the archive; give one", file=sys.stderr)
        return 2
    return finish(lambda: run_on_ray(str(args.input), args.output, args.ray, args.ray_actors, args.ray_actor_cpus,
                                     args.ray_actor_gpus, args.ray_batch_size))  # fmt: skip
