"""The articles the benchmarks and the load test send: the seed article, then corpus passages joined by topic."""

import json
from pathlib import Path

from service.text.splitting import split_article

ROOT = Path(__file__).resolve().parent.parent


def load_articles(
    shared: Path, count: int, passages_per_article: int = 2, max_sentences: int | None = None
) -> list[tuple[str, str]]:
    """The seed article, then corpus passages joined within a topic (paragraph-separated); with ``max_sentences``
    each article is cut to its first sentences (short news briefs)."""
    passages = [json.loads(line) for line in (shared / "corpus" / "hindi_news.jsonl").open(encoding="utf-8")]
    by_topic: dict[str, list[str]] = {}
    for p in passages:
        by_topic.setdefault(p["topic"], []).append(p["text"])
    articles = [("seed", (ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8"))]
    for topic, texts in sorted(by_topic.items()):
        n = passages_per_article
        for i in range(0, len(texts), n):
            articles.append((f"{topic}-{i // n}", "\n".join(texts[i : i + n])))
    if max_sentences:
        articles = [(i, " ".join(split_article(t).sentences[:max_sentences])) for i, t in articles]
    return [articles[i % len(articles)] for i in range(count)]
