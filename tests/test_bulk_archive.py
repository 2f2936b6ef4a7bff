"""``summarize-file`` on an archive a newsroom really has: every kind of bad line is reported with its number and
reason while the good ones are done, nothing loads for a run with nothing left to do, and reading stays linear.
Without models (a stand-in summarizer); the runs against a live service and on Ray are in test_client_and_cli.py
and test_ray.py, on the same archive."""

import functools
import io
import json
import sys
import types

import pytest

import service.bulk
from service.__main__ import main
from service.api.schemas import ArticleOut

from .conftest import cpu_seconds

T = "भाजपा ने आज दिल्ली में बैठक की।"
BOM = b"\xef\xbb\xbf"
MAX_LINE_BYTES = 1_000_000  # SUMMARIZER_MAX_REQUEST_BYTES's default


def line(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


# (line, the code of its error, or None: a good line, or a blank one). Its numbers are the list's, from 1.
MISTAKES = [
    (BOM + line(id="a", text=T) + b"\r", None),  # a byte-order mark and a CRLF line end
    (b"", None),
    (b" \t\r", None),  # blank lines
    (b'{"id": "b", "text": ', "malformed_json"),
    (b'[{"id": "c", "text": "x"}]', "invalid_request"),  # JSON, not an object
    (b'"a string"', "invalid_request"),
    (b"NaN", "invalid_request"),
    (line(id="d"), "invalid_request"),  # no text
    (line(text=T), "invalid_request"),  # no id
    (line(id="", text=T), "invalid_request"),
    (line(id=12, text=T), "invalid_request"),  # ids are strings, as in the API
    (line(id="e", text=5), "invalid_request"),
    (line(id="f", text=None), "invalid_request"),
    (line(id="g", text=[T]), "invalid_request"),
    (line(id="x" * 201, text=T), "invalid_request"),  # over the API's 200 characters
    (b'{"id": "h", "text": "\\ud800"}', "invalid_request"),  # half a UTF-16 pair: not text
    (b'{"id": "h2", "text": "caf\xe9"}', "malformed_json"),  # Latin-1, not UTF-8
    (line(id="a", text=T + " फिर से।"), "duplicate_id"),  # its article would be lost
    (b'{"id": "big", "text": "' + b"a" * MAX_LINE_BYTES + b'"}', "request_too_large"),
    (b"[" * 100_000, "malformed_json"),  # nested past the parser
    (line(id="i", text=T + "\u2028" + T + "\x85" + T), None),  # separators inside a string do not end the line
    (line(id="j", text=T, topic="politics", url="https://example.com/j"), None),  # other fields are ignored
    (line(id="l", text=T), None),  # the last line, without a line end
]
GOOD_IDS = ["a", "i", "j", "l"]
# Lines that are fine, with articles the service itself refuses, and the code it answers (needs the real service).
REFUSED = [
    (line(id="empty", text=""), "empty_text"),
    (line(id="english", text="English only"), "unsupported_language"),
    (line(id="too-long", text="क" * 20_001), "article_too_long"),  # over max_article_chars (default 20 000)
]


def archive(entries=MISTAKES) -> bytes:
    return b"\n".join(raw for raw, _ in entries)


def expected_errors(entries=MISTAKES) -> dict[int, str]:
    return {number: code for number, (_, code) in enumerate(entries, start=1) if code}


def errors_of(out) -> dict[int, str]:
    records = out.with_suffix(".errors.jsonl").read_text("utf-8").splitlines()
    return {e["line"]: e["code"] for e in map(json.loads, records)}


def result_ids(out) -> list[str]:
    return [json.loads(r)["id"] for r in out.read_text("utf-8").splitlines()] if out.exists() else []


def stand_in(article_id: str, text: str) -> ArticleOut:
    return ArticleOut.model_validate({
        "id": article_id, "summary": {"hi": text[:10], "en": "x"}, "translation": {"en": "x", "paragraphs": ["x"]},
        "meta": {"source_lang": "hin_Deva", "models": {}, "device": "cpu", "dtype": {}, "input_tokens": 1, "truncated": False,
                 "timings_ms": {"split": 0, "translate": 0, "summarize": 0, "total": 0},
                 "cache": {"sentences": 1, "hits": 0, "summary_reused": False}},
    })  # fmt: skip


@pytest.fixture
def no_models(monkeypatch):
    """The in-process worker with a stand-in summarizer; ``loads`` counts how often it was built."""
    loads = []

    def worker():
        loads.append(1)

        async def summarize(article_id, text, source_lang):
            return stand_in(article_id, text)

        async def close():
            pass

        return summarize, close

    monkeypatch.setattr(service.bulk, "in_process_worker", worker)
    return loads


def test_every_bad_line_is_reported_with_its_number_and_the_good_ones_are_done(tmp_path, no_models, capsys):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(archive())
    assert main(["summarize-file", str(source), "-o", str(out)]) == 1  # some failed
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"done 4, failed {len(expected_errors())}, skipped 0"
    assert sorted(result_ids(out)) == GOOD_IDS  # in the order they finished
    assert errors_of(out) == expected_errors()
    records = [json.loads(r) for r in (tmp_path / "out.errors.jsonl").read_text("utf-8").splitlines()]
    assert all(set(r) == {"id", "line", "status", "code", "message"} and r["message"] for r in records)
    by_line = {r["line"]: r for r in records}
    assert by_line[8]["id"] == "d" and by_line[8]["message"] == "text: Field required"  # which field, as the API says
    duplicate = "the id is already used on line 1; ids must be unique, this line is not summarized"
    assert by_line[18] == {"id": "a", "line": 18, "status": 422, "code": "duplicate_id", "message": duplicate}
    assert by_line[19]["status"] == 413 and by_line[19]["id"] is None

    # A re-run: the good ones are skipped, the bad lines reported again (the errors file is the latest run's).
    assert main(["summarize-file", str(source), "-o", str(out)]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"done 0, failed {len(expected_errors())}, skipped 4"
    assert sorted(result_ids(out)) == GOOD_IDS and errors_of(out) == expected_errors()


def test_a_run_with_nothing_left_to_do_loads_no_model(tmp_path, no_models, capsys):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(archive())
    main(["summarize-file", str(source), "-o", str(out)])
    assert no_models == [1]
    assert main(["summarize-file", str(source), "-o", str(out)]) == 1  # only bad lines left
    good_only = tmp_path / "good.jsonl"
    good_only.write_bytes(archive([entry for entry in MISTAKES if entry[1] is None]))
    assert main(["summarize-file", str(good_only), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "done 0, failed 0, skipped 4"
    assert no_models == [1], "a run with every id done loaded the models"


def test_resume_checks_before_the_real_models_load(tmp_path, monkeypatch, capsys):
    """The real in-process worker: its runtime must not be built when every id is done."""
    def build_runtime(settings):
        raise AssertionError("the models were loaded for a run with nothing to do")

    # A stand-in module: importing the real one (torch) would take longer than the whole test.
    monkeypatch.setitem(sys.modules, "service.runtime", types.SimpleNamespace(build_runtime=build_runtime))
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": T}) + "\n" for i in ("1", "2")), encoding="utf-8")
    out.write_text("".join(json.dumps({"id": i}) + "\n" for i in ("1", "2")), encoding="utf-8")
    assert main(["summarize-file", str(source), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == "done 0, failed 0, skipped 2"


def test_a_missing_input_is_one_line_not_a_traceback(tmp_path, capsys):
    assert main(["summarize-file", str(tmp_path / "nowhere.jsonl"), "-o", str(tmp_path / "out.jsonl")]) == 2
    assert "nowhere.jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["summarize-file", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--concurrency", "0"])


def read_all(data: bytes, max_line_bytes: int) -> None:
    for _ in service.bulk.read_archive(io.BytesIO(data), max_line_bytes):
        pass


@pytest.mark.parametrize("shape", ["good lines", "bad lines", "blank lines", "one line over the limit",
                                   "lines over the limit", "one long article", "deep nesting"])  # fmt: skip
def test_reading_an_archive_is_linear(shape):
    n, limit = 400_000, 10_000
    make = {
        "good lines": lambda n: (line(id="x", text=T) + b"\r\n") * (n // 80),
        "bad lines": lambda n: b"{[\xff\n" * (n // 4),
        "blank lines": lambda n: b" \r\n" * (n // 3),
        "one line over the limit": lambda n: b"a" * n,
        "lines over the limit": lambda n: (b"a" * (limit + 1) + b"\n") * (n // limit),
        "one long article": lambda n: line(id="x", text="क" * (n // 8)),
        "deep nesting": lambda n: b"[" * (n // 8),
    }[shape]
    max_line_bytes = limit if "over the limit" in shape else n
    read = functools.partial(read_all, max_line_bytes=max_line_bytes)
    small, large = cpu_seconds(read, make(n // 8)), cpu_seconds(read, make(n))
    assert large < 5, f"{shape}: {large:.2f} s at n={n}"
    # 8× the input may cost at most 16× the time (below 50 ms, allocation and caches dominate).
    assert large < 0.05 or large <= 16 * max(small, 0.002), f"{shape}: {small:.4f} s → {large:.4f} s"


def test_archive_work_waits_out_overload_instead_of_failing():
    """summarize-file and the Ray archive (in-process) wait the Retry-After of a full or overloaded engine and try
    again; only a wait past the bound gives up."""
    import asyncio

    from service.bulk import waiting_out_overload
    from service.errors import Overloaded

    calls = []

    async def busy_twice():
        calls.append(1)
        if len(calls) <= 2:
            raise Overloaded("full", 0)
        return "done"

    assert asyncio.run(waiting_out_overload(busy_twice)) == "done" and len(calls) == 3
    calls.clear()

    async def always_busy():
        calls.append(1)
        raise Overloaded("full", 0)

    with pytest.raises(Overloaded):
        asyncio.run(waiting_out_overload(always_busy, attempts=4))
    assert len(calls) == 4


def test_the_http_archive_client_waits_out_429s():
    from service.bulk import BULK_RETRIES
    from service.client import AsyncClient

    client = AsyncClient("http://127.0.0.1:9", retries=BULK_RETRIES)
    assert client._outcome(0, None, OSError("refused"))[1] <= 90  # a transport error: capped backoff
    assert client._outcome(BULK_RETRIES - 5, None, OSError("refused"))[1] <= 90
