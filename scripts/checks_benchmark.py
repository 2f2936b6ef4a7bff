"""What the checks (``service.checks``) cost per article: the seed article, its English translation (written for
the checks, ``seeds/seed_article_en.txt``) and a two-sentence summary in both languages, checked together as
``/summarize`` will check them, on this machine's CPU.

    python scripts/checks_benchmark.py [--repeat 20] [--json out.json]

Prints the first call (which loads the English word counts of the name check, once per process) and the median
(wall and CPU) and slowest of the warm calls, in milliseconds.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.checks import run_checks  # noqa: E402

SUMMARY = {
    "hi": "भाजपा ने लोकसभा चुनाव में 370 सीटें जीतने का लक्ष्य रखा है। कैलाश विजयवर्गीय ने 20 फरवरी को जबलपुर में "
    "बैठक ली।",
    "en": "The BJP has set a target of winning 370 seats in the Lok Sabha elections. Kailash Vijayvargiya held a "
    "meeting in Jabalpur on February 20.",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="warm calls to time (default 20)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    source = (ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8")
    translation = (ROOT / "seeds" / "seed_article_en.txt").read_text(encoding="utf-8")

    def once() -> tuple[float, float, str]:
        started, cpu = time.perf_counter(), time.thread_time()
        report = run_checks(source, translation=translation, summary=SUMMARY)
        return (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000, report.review

    first_ms, _, review = once()
    runs = [once() for _ in range(args.repeat)]
    warm, cpu = [wall for wall, _, _ in runs], [cpu for _, cpu, _ in runs]
    figures = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or platform.platform()}, Python "
        f"{platform.python_version()}",
        "article_chars": len(source),
        "translation_chars": len(translation),
        "review": review,
        "first_call_ms": round(first_ms, 1),
        "median_ms": round(statistics.median(warm), 1),
        "median_cpu_ms": round(statistics.median(cpu), 1),  # this thread's CPU: what a busy neighbour does not add
        "slowest_ms": round(max(warm), 1),
        "repeat": args.repeat,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
