"""The Python client and the bulk CLI, against live servers."""

import asyncio
import json
import signal
import subprocess
import sys
import time

import httpx
import pytest

from service.api.schemas import ArticleOut
from service.client import AsyncClient, AuthenticationError, Client, InvalidRequest, RateLimited, SummaryResult

from .conftest import ROOT, SEED_TEXT, SHARED
from .test_bulk_archive import GOOD_IDS, MISTAKES, REFUSED, archive, errors_of, expected_errors

BRIEF = "भाजपा ने आज दिल्ली में बैठक की।"


def test_summarize_one_and_many(live_server):
    with Client(live_server) as client:
        one = client.summarize(SEED_TEXT, article_id="seed")
        assert isinstance(one, SummaryResult) and one.id == "seed"
        assert one.summary_hi and one.summary_en and len(one.paragraphs_en) == len(SEED_TEXT.strip().split("\n"))
        many = client.summarize([BRIEF, {"id": "x", "text": SEED_TEXT.split("\n")[0]}], summary_languages=["hi"])
        assert [r.id for r in many] == ["1", "x"] and all(r.summary_en is None for r in many)
        assert client.summarize(BRIEF).meta["cache"]["hits"] == 1  # the live server keeps a translation memory
        assert client.summarize(BRIEF, cache=False).meta["cache"]["hits"] == 0
        translated = client.translate([BRIEF, SEED_TEXT])
        assert len(translated) == 2 and len(translated[1].paragraphs) == len(SEED_TEXT.strip().split("\n"))


def test_async_client(live_server):
    async def main():
        async with AsyncClient(live_server) as client:
            return await asyncio.gather(client.summarize(BRIEF), client.translate(BRIEF))

    summary, translation = asyncio.run(main())
    assert summary.translation_en == translation.translation


def test_results_carry_the_checks_and_the_review(live_server):
    with Client(live_server) as client:
        result = client.summarize(BRIEF, glossary_entries={"भाजपा": "BJP"}, on_unsupported="drop")
        assert result.review in ("ok", "needs_review") and result.needs_review == bool(result.checks)
        assert result.checks == result.meta["checks"]
        (translated,) = client.translate([BRIEF])
        assert translated.review in ("ok", "needs_review") and isinstance(translated.checks, list)
        checked = client.check("भाजपा के पांच विधायक आए।", translation="Six BJP MLAs came.", summary_en="Five came.")
        assert checked.needs_review and [(f["check"], f["text"]) for f in checked.checks] == [("number", "Six")]


def test_422_is_raised_with_the_service_code(live_server):
    with Client(live_server) as client, pytest.raises(InvalidRequest) as raised:
        client.summarize("only English")
    assert raised.value.status == 422 and raised.value.code == "unsupported_language" and raised.value.request_id


def test_429_is_retried_after_retry_after(keyed_server):
    with Client(keyed_server, api_key="k-1", retries=4) as client:
        started = time.monotonic()
        results = [client.translate(BRIEF) for _ in range(4)]  # burst 2, then 429s until a token is back
        assert len(results) == 4 and time.monotonic() - started >= 2
    with Client(keyed_server, api_key="k-1", retries=0) as impatient:
        with pytest.raises(RateLimited) as raised:
            for _ in range(5):
                impatient.translate(BRIEF)
        assert raised.value.code == "rate_limited"
    with Client(keyed_server, api_key="wrong") as stranger, pytest.raises(AuthenticationError):
        stranger.translate(BRIEF)


def _ids(path):
    return [json.loads(row)["id"] for row in path.read_text(encoding="utf-8").splitlines() if row.strip()]


def test_bulk_cli_survives_a_kill_and_resumes(live_server, tmp_path):
    corpus = [json.loads(line) for line in (SHARED / "corpus" / "hindi_news.jsonl").open(encoding="utf-8")][:40]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": a["id"], "text": a["text"]}, ensure_ascii=False) + "\n" for a in corpus))
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "service", "summarize-file", str(source), "-o", str(out), "--url", live_server,
               "--concurrency", "4"]  # fmt: skip

    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while (not out.exists() or len(_ids(out)) < 8) and time.monotonic() < deadline:
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = _ids(out)
    assert 8 <= len(done_before) < 40

    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    final = second.stdout.strip().splitlines()[-1]
    assert final == f"done {40 - len(done_before)}, failed 0, skipped {len(done_before)}"
    assert "article" in second.stderr  # the progress bar
    ids = _ids(out)
    assert sorted(ids) == sorted(a["id"] for a in corpus) and len(ids) == len(set(ids))
    first_result = ArticleOut.model_validate_json(out.read_text(encoding="utf-8").splitlines()[0])
    assert first_result.summary["hi"] and first_result.translation.en


def test_bulk_cli_records_failures_apart(live_server, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "ok", "text": BRIEF}, ensure_ascii=False) + "\n" + json.dumps({"id": "bad", "text": "English only"}) + "\n")
    out = tmp_path / "out.jsonl"
    done = subprocess.run([sys.executable, "-m", "service", "summarize-file", str(source), "-o", str(out), "--url", live_server],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 1 and done.stdout.strip().endswith("done 1, failed 1, skipped 0")
    assert _ids(out) == ["ok"]
    [error] = [json.loads(line) for line in out.with_suffix(".errors.jsonl").read_text().splitlines()]
    assert error == {"id": "bad", "line": 2, "status": 422, "code": "unsupported_language", "message": error["message"]}


def test_bulk_cli_reports_each_bad_line_and_does_the_good_ones(live_server, tmp_path):
    """An archive with every kind of bad line (test_bulk_archive.MISTAKES): each goes to the errors file with its
    number and reason, the good articles are done, the exit status says some failed."""
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(archive(MISTAKES + REFUSED))
    done = subprocess.run([sys.executable, "-m", "service", "summarize-file", str(source), "-o", str(out), "--url",
                           live_server], cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    failed = len(expected_errors(MISTAKES + REFUSED))
    assert done.stdout.strip().splitlines()[-1] == f"done {len(GOOD_IDS)}, failed {failed}, skipped 0"
    assert sorted(_ids(out)) == GOOD_IDS
    assert errors_of(out) == expected_errors(MISTAKES + REFUSED)


def test_bulk_cli_writes_what_summarize_answers(live_server, tmp_path):
    """One shape for both: a result line is the API's ArticleOut, as POST /summarize answers for the same article."""
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "seed", "text": SEED_TEXT}, ensure_ascii=False) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "service", "summarize-file", str(source), "-o", str(out), "--url",
                           live_server], cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [written] = out.read_text(encoding="utf-8").splitlines()
    from_file = json.loads(written)
    answer = httpx.post(live_server + "/summarize", json={"id": "seed", "text": SEED_TEXT}, timeout=120).json()
    assert ArticleOut.model_validate(from_file).model_dump() == from_file  # nothing more, nothing less
    for result in (from_file, answer):  # what differs between two runs of one article
        del result["meta"]["timings_ms"], result["meta"]["cache"]
    assert from_file == answer


def test_bulk_cli_on_ray_without_the_extra_says_how_to_get_it(tmp_path):
    """``--ray`` where the optional extra is missing (``ray`` hidden from imports): exit 2 and the install line, not a
    traceback."""
    archive = tmp_path / "in.jsonl"
    archive.write_text('{"id": "a", "text": "नमस्ते।"}\n', encoding="utf-8")
    code = ("import sys; sys.modules['ray'] = None; from service.__main__ import main; "
            f"sys.exit(main(['summarize-file', {str(archive)!r}, '-o', {str(tmp_path / 'out.jsonl')!r}, '--ray', 'auto']))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "pip install -e '.[ray]'" in done.stderr and "Traceback" not in done.stderr
