"""The figures of docs/SCALING.md, in one run on this machine (a two-node local Ray cluster, service/deploy/local_cluster.py):

    python scripts/scaling_benchmark.py [--archive-models bench|tiny] [--json docs/bench/scaling.json]

1. **Overhead.** The same requests, one at a time, to plain uvicorn (``python -m service serve``) and to Ray Serve
   (deploy/ray/serve.yaml, one replica), alternating rounds: medians and 90th percentiles of ``/healthz`` (routing
   only) and of ``/summarize`` of a one-sentence article (tiny models: the request is cheap, the hops are not).
2. **Ray's own memory.** Resident memory of every process of the cluster except the replicas, per node.
3. **Autoscaling.** serve.yaml's autoscaling as shipped (1 to 2 replicas here), then a load step (96 clients in a
   loop, three times ``target_ongoing_requests``): seconds until Serve starts a second replica and until it answers.
4. **Archive throughput.** ``summarize-file --ray`` over the corpus (41 passages) with 1 and 2 actors (the cores
   split between them), model loading included, as a newcomer would run it.
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchmark import command_line, ensure_models, report  # noqa: E402
from service.deploy.local_cluster import HOST, LocalCluster, free_port, local_serve_config  # noqa: E402

NEW_TOKENS = 32  # as in scripts/cache_benchmark.py: a random model's sentences kept to a real length
ONE_SENTENCE = {"text": "प्रधानमंत्री ने आज नई दिल्ली में मंत्रिमंडल की बैठक की।"}


def model_env(models: Path, store: Path, **extra) -> dict:
    settings = {"TRANSLATION_MODEL": models / "indictrans2", "SUMMARIZATION_MODEL": models / "mt5",
                "MODELS_DIR": store, "OFFLINE": "true", "CACHE": "off", "TRANSLATION_MAX_NEW_TOKENS": NEW_TOKENS,
                **extra}  # fmt: skip
    return {f"SUMMARIZER_{k}": str(v) for k, v in settings.items()} | {"HF_HUB_OFFLINE": "1"}


def quantiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2),
            "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2), "n": len(ordered)}  # fmt: skip


def plain_server(env: dict, port: int, log: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "service", "serve"], cwd=ROOT, stdout=log.open("w"),
                               stderr=subprocess.STDOUT, env={**os.environ, **env, "SUMMARIZER_PORT": str(port)})  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                return process, f"http://{HOST}:{port}"
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.2)
    raise TimeoutError("the plain server did not become ready")


def overhead(plain_url: str, serve_url: str, rounds: int = 10, per_round: int = 20) -> dict:
    samples = {(where, what): [] for where in ("uvicorn", "serve") for what in ("healthz", "summarize")}
    with httpx.Client(timeout=60) as http:
        for url in (plain_url, serve_url):  # warm both paths
            for _ in range(5):
                http.post(url + "/summarize", json=ONE_SENTENCE).raise_for_status()
        for _ in range(rounds):
            for where, url in (("uvicorn", plain_url), ("serve", serve_url)):
                for _ in range(per_round):
                    start = time.perf_counter()
                    http.get(url + "/healthz").raise_for_status()
                    samples[where, "healthz"].append(time.perf_counter() - start)
                    start = time.perf_counter()
                    http.post(url + "/summarize", json=ONE_SENTENCE).raise_for_status()
                    samples[where, "summarize"].append(time.perf_counter() - start)
    out = {f"{where}_{what}": quantiles(values) for (where, what), values in samples.items()}
    for what in ("healthz", "summarize"):
        out[f"added_by_serve_{what}_median_ms"] = round(
            out[f"serve_{what}"]["median_ms"] - out[f"uvicorn_{what}"]["median_ms"], 2
        )
    return out


def ray_memory(cluster: LocalCluster) -> dict:
    """Resident (RSS) and unique (USS) memory of the cluster's own processes, by node: every process but the
    replicas and the archive's model actors."""
    nodes = {}
    for index, name in enumerate(["head"] + [f"worker{i}" for i in range(1, len(cluster.processes))]):
        totals = {"processes": 0, "rss_mb": 0.0, "uss_mb": 0.0}
        for pid in cluster.node_pids(index):
            try:
                process = psutil.Process(pid)
                if any(kind in " ".join(process.cmdline()) for kind in ("ServeReplica", "MapWorker")):
                    continue
                memory = process.memory_full_info()
            except psutil.Error:
                continue
            totals["processes"] += 1
            totals["rss_mb"] += memory.rss / 2**20
            totals["uss_mb"] += memory.uss / 2**20
        nodes[name] = {k: round(v, 1) for k, v in totals.items()}
    return nodes


def replica_states(cluster: LocalCluster) -> dict:
    deployment = cluster.applications()["news"]["deployments"]["NewsSummarizer"]
    return deployment.get("replica_states") or {}


def autoscaling(cluster: LocalCluster, env: dict, clients: int = 96) -> dict:
    port = free_port()
    config = local_serve_config(port, env, replicas=None, replica_cpus=2)
    scaling = config["applications"][0]["deployments"][0]["autoscaling_config"]
    scaling["max_replicas"] = 2  # two nodes here
    cluster.deploy(config)
    url = f"http://{HOST}:{port}"
    seen: set[str] = set()
    marks: dict[str, float] = {}

    statuses: dict[int, int] = {}

    async def client(http: httpx.AsyncClient, stop: asyncio.Event):
        while not stop.is_set():
            response = await http.post(url + "/summarize", json=ONE_SENTENCE)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                seen.add(response.headers["x-served-by"])

    async def run() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as http:
            warm = await http.post(url + "/summarize", json=ONE_SENTENCE)
            first = {warm.headers["x-served-by"]}
            start = time.monotonic()
            tasks = [asyncio.create_task(client(http, stop)) for _ in range(clients)]
            while time.monotonic() - start < 600:
                states = await asyncio.to_thread(replica_states, cluster)
                if "started" not in marks and sum(states.values()) > 1:
                    marks["started"] = time.monotonic() - start
                if seen - first:
                    marks["answering"] = time.monotonic() - start
                    break
                await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*tasks)

    asyncio.run(run())
    cluster.serve("shutdown", "-y")
    return {
        "shipped": {k: scaling[k] for k in ("target_ongoing_requests", "upscale_delay_s", "min_replicas")},
        "clients": clients,
        "second_replica_started_s": round(marks.get("started", float("nan")), 1),
        "second_replica_answering_s": round(marks.get("answering", float("nan")), 1),
        "responses": statuses,
    }


def archive(cluster: LocalCluster, models: Path, store: Path, shared: Path, workdir: Path) -> dict:
    source = shared / "corpus" / "hindi_news.jsonl"
    articles = sum(1 for line in source.open() if line.strip())
    out = {"articles": articles}
    cores = os.cpu_count() or 2
    for actors in (1, 2):
        target = workdir / f"archive-{actors}.jsonl"
        env = {**cluster.env, **model_env(models, store, CPU_THREADS=max(1, cores // actors))}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "service", "summarize-file", str(source), "-o", str(target), "--ray",
                        cluster.address, "--ray-actors", str(actors), "--ray-batch-size", "4"], cwd=ROOT, env=env,
                       check=True, capture_output=True)  # fmt: skip
        seconds = time.perf_counter() - start
        assert sum(1 for _ in target.open()) == articles
        out[f"actors_{actors}"] = {"seconds": round(seconds, 1), "articles_per_minute": round(articles / seconds * 60, 1)}
    out["speedup_2_vs_1"] = round(out["actors_1"]["seconds"] / out["actors_2"]["seconds"], 2)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny-models", type=Path, default=ROOT / "test-models")
    parser.add_argument("--bench-models", type=Path, default=ROOT / "bench-models")
    parser.add_argument("--archive-models", choices=("bench", "tiny"), default="bench")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(argv),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},  # fmt: skip
    }
    tiny = args.tiny_models
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = model_env(tiny, workdir / "store")
        plain, plain_url = plain_server(env, free_port(), workdir / "plain.log")
        try:
            with LocalCluster(nodes=2, cpus_per_node=2, env=env) as cluster:
                result["ray_memory_idle"] = ray_memory(cluster)
                port = free_port()
                cluster.deploy(local_serve_config(port, env, replicas=1, replica_cpus=2))
                result["ray_memory_serving"] = ray_memory(cluster)
                result["overhead"] = overhead(plain_url, f"http://{HOST}:{port}")
                cluster.serve("shutdown", "-y")
                result["autoscaling"] = autoscaling(cluster, env)
                if args.archive_models == "bench":  # the bench models' store holds their CTranslate2 copies already
                    models = ensure_models(args.bench_models, args.shared)
                    store = models / "store"
                else:
                    models, store = tiny, workdir / "store"
                result["archive"] = archive(cluster, models, store, args.shared, workdir) | {"models": args.archive_models}
        finally:
            plain.terminate()
            plain.wait(60)
    return report(result, args.json)


if __name__ == "__main__":
    main()
