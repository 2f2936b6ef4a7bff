"""Load a running service: C concurrent clients post articles for T seconds (loopback only).

    python scripts/load_test.py --url http://127.0.0.1:8000 --clients 16 --seconds 60 [--pid PID] [--key KEY]

Every request must get an answer; 429 (queue full or rate limit) is the only deliberate error. With --pid the
server's resident memory is read from /proc before and after. Prints (and with --json writes) the counts, latency
percentiles, throughput and memory growth; exits 1 when a request got no answer or a 5xx.
"""

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def articles(shared: Path) -> list[str]:
    texts = [(ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8")]
    corpus = shared / "corpus" / "hindi_news.jsonl"
    if corpus.is_file():
        texts += [json.loads(line)["text"] for line in corpus.open(encoding="utf-8")]
    return texts


async def run(url: str, clients: int, seconds: float, key: str | None, texts: list[str], timeout_s: float) -> dict:
    statuses: Counter = Counter()
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    headers = {"X-API-Key": key} if key else {}
    rng = random.Random(0)

    async def client(http: httpx.AsyncClient):
        while time.monotonic() < deadline:
            text = rng.choice(texts)
            body = {"text": text, "options": {"summary_languages": rng.choice([["hi"], ["hi", "en"], []])}}
            started = time.perf_counter()
            try:
                response = await http.post("/summarize", json=body, headers=headers)
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            statuses[response.status_code] += 1
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            elif response.status_code == 429:
                await asyncio.sleep(min(5.0, float(response.headers.get("retry-after", "1"))))

    async with httpx.AsyncClient(base_url=url, timeout=timeout_s) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": sum(statuses.values()) + len(failures),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "no_answer": len(failures),
        "failures": failures[:5],
        "ok_per_s": round(statuses[200] / elapsed, 2),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--key")
    parser.add_argument("--pid", type=int, help="the server's process id, to read its memory")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--timeout", type=float, default=300, help="per-request client timeout, seconds")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    host = httpx.URL(args.url).host
    if not (host in ("localhost", "::1") or host.startswith("127.")):
        parser.error("load tests only target this machine (127.0.0.0/8, localhost, ::1)")
    before = rss_mib(args.pid) if args.pid else None
    result = asyncio.run(run(args.url, args.clients, args.seconds, args.key, articles(args.shared), args.timeout))
    if args.pid:
        after = rss_mib(args.pid)
        result["rss_mib"] = {"before": round(before, 1), "after": round(after, 1), "growth": round(after - before, 1)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    errors = sum(v for k, v in result["statuses"].items() if k not in ("200", "429"))
    return 1 if result["no_answer"] or errors else 0


if __name__ == "__main__":
    sys.exit(main())
