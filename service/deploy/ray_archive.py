"""A whole archive on a Ray cluster: ``python -m service summarize-file IN.jsonl -o OUT.jsonl --ray ADDRESS``.

The same work and the same files as the local command (service/bulk.py), run as Ray Data: ``read_json`` → the ids
already in OUT dropped → ``map_batches`` through a pool of actors, each holding our runtime (both models, its own
schedulers, which pool the sentences of a batch's articles) — one actor per GPU, or ``--ray-actors`` CPU actors.
This process (the driver) writes every result to OUT as it streams back, so a killed run loses nothing and a re-run
skips what is done; an id seen twice is written once; failures go to ``OUT.errors.jsonl`` with their reason.

IN must be readable by every node (a shared file system or ``s3://…``); OUT is written here. The actors read
their settings from the ``SUMMARIZER_*`` variables of this process (passed in the job's ``runtime_env``).
"""

import asyncio
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..bulk import BulkFailure, Counts, completed_ids, in_process_worker

# Reads and the done-id filter ask for a sliver of a CPU: with whole-CPU actors on a small cluster, tasks asking
# for a full CPU would wait for ever behind them (Ray Data then stalls without a word).
LIGHT_TASK_CPUS = 0.1


class ArchiveActor:
    """One per GPU (or CPU share): builds the runtime once, then summarizes a batch of articles concurrently."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.summarize, _ = self.loop.run_until_complete(self._start())  # nothing to close: the process ends with the job

    @staticmethod
    async def _start():
        return in_process_worker()  # inside the loop: the schedulers' tasks belong to it

    def __call__(self, batch: dict) -> dict:
        ids = [None if i is None else str(i) for i in batch["id"]]
        results = self.loop.run_until_complete(self._all(ids, list(batch["text"])))
        return {"id": ids, "result": [r for r, _ in results], "error": [e for _, e in results]}

    async def _all(self, ids: list, texts: list) -> list[tuple[str, str]]:
        return await asyncio.gather(*(self._one(i, t) for i, t in zip(ids, texts)))

    async def _one(self, article_id: str | None, text) -> tuple[str, str]:
        """(result line, "") or ("", error line): one article's outcome, never an exception (no lost article)."""
        if article_id is None or not isinstance(text, str):
            field = "id" if article_id is None else "text"
            record = {"id": article_id, "status": 422, "code": f"missing_{field}", "message": f"the line has no {field}"}
            return "", json.dumps(record, ensure_ascii=False)
        try:
            result = await self.summarize(article_id, text)
        except BulkFailure as exc:
            record = {"id": article_id, "status": exc.status, "code": exc.code, "message": exc.message}
        except Exception as exc:  # a bug must not take the batch's other articles down with it
            record = {"id": article_id, "status": 500, "code": "internal", "message": f"{type(exc).__name__}: {exc}"}
        else:
            return json.dumps(asdict(result), ensure_ascii=False), ""
        return "", json.dumps(record, ensure_ascii=False)


def _settings_env() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith(("SUMMARIZER_", "HF_", "TRANSLATION_"))}


def _local_line_count(in_path: str) -> int | None:
    path = Path(in_path)
    if not path.is_file():
        return None  # s3://… and the like: the bar counts without a total
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def run_on_ray(in_path: str, out_path: Path, address: str, actors: int | None, actor_cpus: float,
               actor_gpus: float | None, batch_size: int) -> Counts:  # fmt: skip
    import ray

    done = completed_ids(out_path)
    ray.init(address=address, runtime_env={"env_vars": _settings_env()}, logging_level=logging.WARNING)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if actor_gpus is None:
            actor_gpus = 1 if gpus else 0
        if actors is None:
            actors = max(1, int(gpus // actor_gpus)) if actor_gpus else 1
        local = str(Path(in_path).resolve()) if "://" not in in_path else in_path
        dataset = ray.data.read_json(local, lines=True, num_cpus=LIGHT_TASK_CPUS)
        if done:
            dataset = dataset.filter(lambda row: str(row.get("id")) not in done, num_cpus=LIGHT_TASK_CPUS)
        dataset = dataset.map_batches(ArchiveActor, batch_size=batch_size, concurrency=actors, num_cpus=actor_cpus,
                                      num_gpus=actor_gpus, batch_format="numpy")  # fmt: skip
        return _write(dataset, out_path, done, _local_line_count(local))
    finally:
        ray.shutdown()


def _write(dataset, out_path: Path, done: set[str], total: int | None) -> Counts:
    counts, written = Counts(skipped=len(done)), set(done)
    errors_path = out_path.with_suffix(".errors.jsonl")
    bar = tqdm(total=None if total is None else max(0, total - len(done)), unit="article", desc="summarizing",
               file=sys.stderr)  # fmt: skip
    with out_path.open("a", encoding="utf-8") as out, errors_path.open("a", encoding="utf-8") as errors:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for article_id, result, error in zip(batch["id"], batch["result"], batch["error"]):
                if article_id is not None and article_id in written:
                    counts.skipped += 1  # the same id earlier in the input
                elif result:
                    out.write(result + "\n")
                    written.add(article_id)
                    counts.done += 1
                else:
                    errors.write(error + "\n")
                    if article_id is not None:
                        written.add(article_id)  # once per run; a re-run tries it again
                    counts.failed += 1
                bar.update(1)
            out.flush()
            errors.flush()
    bar.close()
    return counts


def summarize_file_on_ray(args) -> int:
    """``summarize-file --ray``: the exit status and the closing line of the local command."""
    if args.url:
        print("error: --ray and --url are two ways to run the archive; give one", file=sys.stderr)
        return 2
    try:
        import ray  # noqa: F401
    except ImportError:
        print("error: --ray needs the optional ray extra: pip install -e '.[ray]' (docs/SCALING.md)", file=sys.stderr)
        return 2
    counts = run_on_ray(str(args.input), args.output, args.ray, args.ray_actors, args.ray_actor_cpus,
                        args.ray_actor_gpus, args.ray_batch_size)  # fmt: skip
    print(counts.line())
    return 0 if counts.failed == 0 else 1
