"""Load a running service: phases of C concurrent clients posting full articles for T seconds each (loopback only).

    python scripts/load_test.py --url http://127.0.0.1:8000 --clients 4 64 --seconds 120 [--pid PID] [--key KEY]

Each client posts one article at a time (the seed article or two corpus passages of one topic, as the benchmark's
articles), with the translation memory off unless ``--memory``; on a 429 it waits the Retry-After (or what is left of
the phase) and sends again, as the Python client does. Per phase: goodput (answered requests per second), the share
of 429 and of 504 or no answer, p50/p95 latency of answered requests, and how long the refusals took (and whether
each carried Retry-After). Every request must get an answer; 429 is the only deliberate error. With --pid the
server's resident memory is read from /proc before and after. Exits 1 when a request got no answer or a 5xx.
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
sys.path.insert(0, str(ROOT))

from scripts.articles import load_articles  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


async def phase(url: str, clients: int, seconds: float, key: str | None, texts: list[str], timeout_s: float,
                memory: bool) -> dict:  # fmt: skip
    statuses: Counter = Counter()
    latencies: list[float] = []
    refusals: list[float] = []  # seconds a 429 took
    without_retry_after = 0
    failures: list[str] = []
    end = time.monotonic() + seconds
    headers = {"X-API-Key": key} if key else {}
    rng = random.Random(clients)

    async def client(http: httpx.AsyncClient):
        nonlocal without_retry_after
        while time.monotonic() < end:
            body = {"text": rng.choice(texts), "options": {"cache": memory}}
            started = time.perf_counter()
            try:
                response = await http.post("/summarize", json=body, headers=headers)
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            took = time.perf_counter() - started
            statuses[response.status_code] += 1
            if response.status_code == 200:
                latencies.append(took)
            elif response.status_code == 429:
                refusals.append(took)
                retry_after = response.headers.get("retry-after", "")
                without_retry_after += not retry_after.isdigit()
                wait = float(retry_after) if retry_after.isdigit() else 1.0
                await asyncio.sleep(max(0.0, min(wait, end - time.monotonic())))

    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=httpx.Limits(max_connections=clients)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    requests = sum(statuses.values()) + len(failures)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": requests,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "no_answer": len(failures),
        "failures": failures[:5],
        "goodput_per_s": round(statuses[200] / elapsed, 3),
        "share_429": round(statuses[429] / max(1, requests), 3),
        "share_504_or_no_answer": round((statuses[504] + len(failures)) / max(1, requests), 3),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": percentile(latencies, 0.95) if latencies else None,
        "refusal_p95_s": percentile(refusals, 0.95) if refusals else None,
        "refusal_max_s": round(max(refusals), 3) if refusals else None,
        "refusals_without_retry_after": without_retry_after,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, nargs="+", default=[16], help="one phase per number, in order")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--key")
    parser.add_argument("--pid", type=int, help="the server's process id, to read its memory")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--timeout", type=float, default=300, help="per-request client timeout, seconds")
    parser.add_argument("--memory", action="store_true", help="let requests use the translation memory")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    host = httpx.URL(args.url).host
    if not (host in ("localhost", "::1") or host.startswith("127.")):
        parser.error("load tests only target this machine (127.0.0.0/8, localhost, ::1)")
    texts = [text for _, text in load_articles(args.shared, 24)]
    before = rss_mib(args.pid) if args.pid else None
    phases = [asyncio.run(phase(args.url, clients, args.seconds, args.key, texts, args.timeout, args.memory))
              for clients in args.clients]  # fmt: skip
    statuses: Counter = Counter()
    for p in phases:
        statuses.update({int(k): v for k, v in p["statuses"].items()})
    result = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:])),
        "phases": phases,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "no_answer": sum(p["no_answer"] for p in phases),
    }
    if len(phases) > 1:
        result["goodput_ratio_last_to_first"] = round(phases[-1]["goodput_per_s"] / max(phases[0]["goodput_per_s"], 1e-9), 3)
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
