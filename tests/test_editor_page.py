"""The editor's page in a real headless Chromium (Debian's package, driven by Playwright), against live servers."""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from .conftest import ROOT, SEED_TEXT, running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The README's picture is refreshed only when asked (UPDATE_SCREENSHOT=1): a test run leaves the tree unchanged.
SCREENSHOT = (
    ROOT / "docs" / "img" / "editor.png"
    if os.environ.get("UPDATE_SCREENSHOT") == "1"
    else Path(tempfile.gettempdir()) / "hindi-news-editor.png"
)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # fmt: skip



@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def test_paste_submit_and_read_the_result(browser, live_server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/")
    page.fill("#article", SEED_TEXT)
    held = []  # the request is held until the in-progress state has been seen (an answer may come at once)
    page.route("**/summarize", lambda route: held.append(route))
    page.click("#submit")
    while not held:
        page.wait_for_timeout(20)
    assert page.is_disabled("#submit")  # visible in-progress state
    assert "Working" in page.text_content("#status")
    held[0].continue_()
    page.unroute("**/summarize")
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.text_content("#summary-hi-text").strip() not in ("", "—")
    assert page.text_content("#summary-en-text").strip() not in ("", "—")
    paragraphs = [p for p in SEED_TEXT.split("\n") if p.strip()]
    english = page.locator("#paragraphs td.english").all_text_contents()
    assert len(english) == len(paragraphs) and all(e.strip() for e in english)
    assert "Took" in page.text_content("#timings")
    assert page.is_hidden("#error") and not page.is_disabled("#submit")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    # The same article again: the translation memory answers, and the page says so.
    page.click("#submit")
    page.wait_for_selector("#timings:has-text('sentences reused')", timeout=120_000)
    reused = re.search(r"(\d+) of (\d+) sentences reused from earlier translations, and the summary\.",
                       page.text_content("#timings"))  # fmt: skip
    assert reused and reused[1] == reused[2] and int(reused[1]) >= len(paragraphs)


def test_missing_and_wrong_keys_are_explained(browser, keyed_server):
    page = browser.new_page()
    page.goto(keyed_server + "/")
    page.fill("#article", "भाजपा ने बैठक की।")
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])")
    assert page.get_attribute("#error", "data-status") == "401"
    assert "needs an API key" in page.text_content("#error")
    page.click("details > summary")
    page.fill("#api-key", "not-the-key")
    page.click("#submit")
    page.wait_for_selector("#error[data-status='403']")
    assert "not accepted" in page.text_content("#error")
    assert page.evaluate("sessionStorage.getItem('summarizer-api-key')") == "not-the-key"
    assert page.evaluate("localStorage.length") == 0


def test_readable_on_a_phone(browser, live_server):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(live_server + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling
    assert "Devanagari" in page.evaluate("getComputedStyle(document.querySelector('#article')).fontFamily")


def test_a_background_job_shows_its_progress_then_its_result(browser, live_server, tiny_models, tmp_path):
    page = browser.new_page()
    page.goto(live_server + "/")
    page.fill("#article", "भाजपा ने आज दिल्ली में बैठक की। कांग्रेस ने विरोध किया।")
    page.check("#as-job")
    with page.expect_request("**/jobs") as posted:
        page.click("#submit")
    assert json.loads(posted.value.post_data)["priority"] == "interactive"
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.text_content("#summary-hi-text").strip() not in ("", "—")
    # On an intake replica (runs no job) the job stays queued: the page says so, and keeps asking.
    with running_server(tiny_models, tmp_path, job_concurrency=0) as (url, _):
        page.goto(url + "/")
        page.fill("#article", "भाजपा ने आज दिल्ली में बैठक की।")
        page.check("#as-job")
        page.click("#submit")
        page.wait_for_selector("#status:has-text('Queued')", timeout=60_000)
        assert re.search(r"Job \S+…: Queued \(\d+ s\)", page.text_content("#status"))
        assert page.is_disabled("#submit")


def test_the_page_shows_the_language_and_takes_the_editors_choice(browser, live_server):
    """Issue 22: a Bengali article is detected and its summary headed "Bengali"; Marathi text the editor marks as
    Hindi is sent with source_lang and read as Hindi; Kannada (no summary of its own) says why."""
    from .indic_passages import PASSAGES

    page = browser.new_page()
    page.goto(live_server + "/")
    page.wait_for_selector("#source-lang option[value='ben_Beng']", state="attached")
    page.fill("#article", "\n\n".join(PASSAGES["ben_Beng"]))
    with page.expect_request("**/summarize") as posted:
        page.click("#submit")
    sent = json.loads(posted.value.post_data)
    assert "source_lang" not in sent and sent["options"]["summary_languages"] == ["source", "en"]
    page.wait_for_selector("#language:has-text('Bengali, detected')", timeout=120_000)
    assert page.text_content("#summary-native-title") == "Bengali summary"
    assert page.get_attribute("#summary-hi-text", "lang") == "bn"
    assert page.text_content("#summary-hi-text").strip() not in ("", "—")
    page.fill("#article", "\n\n".join(PASSAGES["mar_Deva"]))
    page.select_option("#source-lang", "hin_Deva")
    with page.expect_request("**/summarize") as posted:
        page.click("#submit")
    assert json.loads(posted.value.post_data)["source_lang"] == "hin_Deva"
    page.wait_for_selector("#language:has-text('Hindi, as chosen')", timeout=120_000)
    page.fill("#article", "\n\n".join(PASSAGES["kan_Knda"]))
    page.select_option("#source-lang", "")
    page.click("#submit")
    page.wait_for_selector("#language:has-text('Kannada, detected')", timeout=120_000)
    assert "does not summarize" in page.text_content("#summary-hi-text")
    assert page.text_content("#summary-en-text").strip() not in ("", "—")


def test_flagged_spans_are_marked_with_their_reason_and_the_review_shown(browser, live_server):
    """The page's side of the checks: a result with findings (a canned answer, so that each kind of place is there)
    is shown with each flagged span marked, its reason in the title, and the verdict with every finding listed."""
    source = "भाजपा के पांच विधायक दिल्ली पहुंचे।\nकल बैठक होगी।"
    finding = {"severity": "error", "detail": "not in the article"}
    result = {
        "id": "1",
        "summary": {"hi": "भाजपा के 99 विधायक पहुंचे।", "en": "99 BJP MLAs arrived."},
        "translation": {"en": "Five BJP MLAs reached Delhi.\nA meeting tomorrow in Paris.",
                        "paragraphs": ["Five BJP MLAs reached Delhi.", "A meeting tomorrow in Paris."]},
        "meta": {"source_lang": "hin_Deva", "models": {}, "device": "cpu", "backend": "torch", "input_tokens": 9,
                 "truncated": False,
                 "timings_ms": {"split": 1, "translate": 1, "summarize": 1, "total": 3},
                 "cache": {"sentences": 2, "hits": 0, "summary_reused": False},
                 "review": "needs_review", "checks": [
                     finding | {"check": "number", "where": "summary.hi", "span": [9, 11], "text": "99"},
                     finding | {"check": "number", "where": "summary.en", "span": [0, 2], "text": "99"},
                     finding | {"check": "name", "where": "translation", "span": [51, 56], "text": "Paris"},
                     finding | {"check": "glossary", "where": "translation.paragraphs[0]", "span": [5, 8],
                                "text": "BJP", "severity": "warning"},
                     finding | {"check": "number", "where": "summary.hi", "span": [26, 26], "text": "7",
                                "detail": "removed the sentence: «कल 7 बजे।»"},
                 ]},
    }  # fmt: skip
    page = browser.new_page()
    page.goto(live_server + "/")
    page.wait_for_selector("#source-lang option[value='hin_Deva']", state="attached")
    page.fill("#article", source)
    page.check("#drop-unsupported")
    page.fill("#glossary", "desk")
    page.route("**/summarize", lambda route: route.fulfill(status=200, json=result))
    with page.expect_request("**/summarize") as posted:
        page.click("#submit")
    options = json.loads(posted.value.post_data)["options"]
    assert options["on_unsupported"] == "drop" and options["glossary"] == "desk"
    page.wait_for_selector("#result:not([hidden])")
    assert "needs review (5 findings)" in page.text_content("#review-verdict")
    assert len(page.locator("#findings li").all()) == 5
    assert "removed the sentence" in page.text_content("#findings")
    marks = {(m.text_content(), m.get_attribute("title").split(":")[0]) for m in page.locator("mark.flag[title]").all()}
    assert marks == {("99", "figure"), ("Paris", "name"), ("BJP", "glossary term")}, marks  # 99 twice: hi and en
    assert page.locator("#summary-hi-text mark").text_content() == "99"
    assert page.locator("#paragraphs td.english").nth(1).locator("mark").text_content() == "Paris"
    assert page.text_content("#summary-hi-text") == result["summary"]["hi"]  # the text itself is unchanged
