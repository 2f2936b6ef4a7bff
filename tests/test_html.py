"""HTML mode: WordPress-style post bodies keep their document (tag sequence, hrefs, block comments, code), lose any
script, and are handled in time linear in their size."""

import random
import re

import lxml.html
import pytest

from service.config import Settings
from service.errors import ArticleTooLong, DeadlineExceeded, InvalidText
from service.text import html_doc
from service.text.html_attributes import count_attributes
from service.text.html_doc import HtmlDocument, HtmlLimits, sanitize

from .test_linear_text import assert_linear

DEFAULTS = Settings()
LIMITS = HtmlLimits(DEFAULTS.max_html_attributes_per_element, DEFAULTS.max_html_attributes)

POST = """<!-- wp:heading -->
<h2 class="wp-block-heading">बाढ़ से <strong>हालात</strong> गंभीर, सेना बुलाई गई</h2>
<!-- /wp:heading -->

<!-- wp:paragraph -->
<p>प्रधानमंत्री <a href="https://example.com/pm?id=7&amp;ref=home" title="प्रधानमंत्री कार्यालय">नरेंद्र मोदी</a> ने
आज <em>असम</em> के मुख्यमंत्री से बात की और <b>हर संभव मदद</b> का भरोसा दिया।</p>
<!-- /wp:paragraph -->

<!-- wp:list -->
<ul class="wp-block-list"><li>राहत शिविरों में <span class="highlight">12,000</span> लोग हैं।</li>
<li>रेल सेवाएं <i>आंशिक रूप से</i> बंद हैं।</li><li>स्कूल दो दिन बंद रहेंगे।</li></ul>
<!-- /wp:list -->

<!-- wp:embed {"url":"https://twitter.com/example/status/1","type":"rich","providerNameSlug":"twitter"} -->
<figure class="wp-block-embed is-type-rich is-provider-twitter wp-block-embed-twitter"><div class="wp-block-embed__wrapper">
https://twitter.com/example/status/1
</div><figcaption class="wp-element-caption">मुख्यमंत्री का <a href="https://twitter.com/example">ट्वीट</a></figcaption></figure>
<!-- /wp:embed -->

<!-- wp:image {"id":42} -->
<figure class="wp-block-image size-large"><img src="https://example.com/flood.jpg" alt="पानी में डूबा गांव" class="wp-image-42"/>
<figcaption class="wp-element-caption">गुवाहाटी के पास एक गांव</figcaption></figure>
<!-- /wp:image -->

<!-- wp:quote -->
<blockquote class="wp-block-quote"><p>हम हर परिवार तक पहुंचेंगे।</p><cite>मुख्यमंत्री</cite></blockquote>
<!-- /wp:quote -->

<!-- wp:code -->
<pre class="wp-block-code"><code>मौसम = "बारिश"  # &lt;script&gt;यह कोड है&lt;/script&gt;</code></pre>
<!-- /wp:code -->"""


def tags(html: str) -> list[str]:
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    return [e.tag if isinstance(e.tag, str) else "<!--" + e.text.strip() + "-->" for e in root.iterdescendants()]


def hrefs(html: str) -> list[str]:
    return [a.get("href") for a in lxml.html.fragment_fromstring(html, create_parent="div").iter("a")]


def html_of(client, text: str, **options) -> dict:
    body = {"text": text, "options": {"format": "html", "summary_languages": ["hi"], **options}}
    response = client.post("/summarize", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_wordpress_post_keeps_its_document(client):
    result = html_of(client, POST)
    out = result["translation"]["html"]
    assert tags(out) == tags(POST)  # every element and block comment, in order
    assert hrefs(out) == hrefs(POST) == ["https://example.com/pm?id=7&ref=home", "https://twitter.com/example"]
    assert 'src="https://example.com/flood.jpg"' in out and 'alt="पानी में डूबा गांव"' in out  # attributes as they were
    assert 'class="wp-block-embed is-type-rich is-provider-twitter wp-block-embed-twitter"' in out
    assert "https://twitter.com/example/status/1" in out  # the embed's URL is not a unit: untouched
    assert 'मौसम = "बारिश"  # &lt;script&gt;यह कोड है&lt;/script&gt;' in out  # code passes through untouched
    assert "नरेंद्र मोदी" not in out and "गुवाहाटी" not in out  # the units' text was translated
    paragraphs = result["translation"]["paragraphs"]
    # h2, p, three li, two figcaptions, the quote's p, and the quote's own text (its cite): nine units with text.
    assert len(paragraphs) == 9 and result["translation"]["en"] == "\n".join(paragraphs)
    assert result["summary"]["hi"] and result["meta"]["input_tokens"] > 0


def test_alt_and_title_are_translated_only_when_asked(client):
    out = html_of(client, POST, html_attributes=True)["translation"]["html"]
    assert tags(out) == tags(POST) and "पानी में डूबा गांव" not in out and "प्रधानमंत्री कार्यालय" not in out


@pytest.mark.parametrize("hostile", [
    '<p>नमस्ते<script>alert(1)</script></p>',
    '<p onclick="alert(1)">नमस्ते <a href="javascript:alert(1)">यहां</a></p>',
    '<p>नमस्ते</p><style>p{color:red}</style><iframe src="https://evil.example"></iframe>',
    '<p>नमस्ते <img src=x onerror=alert(1)></p><svg><script>alert(1)</script></svg>',
])  # fmt: skip
def test_no_script_survives(client, hostile):
    out = html_of(client, hostile)["translation"]["html"]
    assert not re.search(r"<script|<style|<iframe|<svg|onclick|onerror|javascript:", out, re.I), out


def test_translate_endpoint_takes_html_too(client):
    response = client.post("/translate", json={"text": "<p>आज <b>बारिश</b> हुई।</p>", "format": "html"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert tags(body["html"]) == ["p", "b"] and body["translation"] == body["paragraphs"][0]


def test_nesting_past_the_parsers_limit_is_refused_not_cut(client):
    response = client.post("/summarize", json={"text": "<ul><li>क" * 300, "options": {"format": "html"}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "html_too_deep"


def test_markup_without_text_is_refused_like_empty_text(client):
    response = client.post("/summarize", json={"text": "<p> </p><img src='a.jpg'>", "options": {"format": "html"}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "empty_text"


def test_text_mode_is_unchanged(client):
    result = client.post("/summarize", json={"text": "<p>आज बारिश हुई।</p>"}).json()
    assert result["translation"]["html"] is None


def distinct_attributes(count: int, start: int = 0) -> str:
    return " ".join(f"a{i}" for i in range(start, start + count))


MARKUP = {
    "nested inline": lambda n: "<p>" + "<b><i>क " * (n // 8) + "</i></b>" * (n // 8) + "</p>",
    "unclosed formatting": lambda n: "<p>" + "<b>क</b><i>" * (n // 12),
    "many paragraphs": lambda n: "<p>क ख</p>" * (n // 8),
    "misnested": lambda n: "<a href='x'><p>क</a></p>" * (n // 20),
    "deep lists": lambda n: "<ul><li>क" * 100 + "</li></ul>" * 100 + "<ul><li>क</li></ul>" * (n // 20),
    "comments": lambda n: "<!-- wp:paragraph --><p>क</p>" * (n // 32),
    # Issue 25: one tag with many distinct attributes took quadratic time in lxml and nh3 (349 KB: 23 s).
    "attributes on one tag": lambda n: f"<p {distinct_attributes(n // 7)}>क</p>",
    "attributes on one tag, no spaces": lambda n: "<p " + "".join(f'a{i}="1"' for i in range(n // 11)) + ">क</p>",
    "attributes on one end tag": lambda n: f"<p>क</p {distinct_attributes(n // 7)}>",
    "attributes of repeated html tags": lambda n: "<p>क</p>" + "".join(f"<html a{i}>" for i in range(n // 12)),
    "many tags with many attributes": lambda n: f"<p {distinct_attributes(90)}>क</p>" * (n // 500),
    "long attribute values": lambda n: f'<p title="{"क" * (n // 2)}"><a href="https://x.example/{"a" * (n // 2)}">क</a></p>',
    "huge class list": lambda n: '<p class="' + " ".join(f"c{i}" for i in range(n // 7)) + '">क</p>',
    "srcset candidates": lambda n: '<img srcset="' + ", ".join(f"a{i}.jpg {i}w" for i in range(n // 16)) + '"><p>क</p>',
    "entities": lambda n: "<p>" + "&amp;&#x915;&nbsp;&#x1c;" * (n // 23) + "</p>",
    "control characters": lambda n: '<p title="\x1c">' + "क\x1c\x7f\ufffe" * (n // 4) + "</p>",
    "inline flood": lambda n: "<p>" + "<b>क</b> " * (n // 9) + "</p>",
    "unclosed quoted value": lambda n: '<p title="' + "<a b " * (n // 5),
    "tag openers": lambda n: "<a" * (n // 2),
}


@pytest.mark.parametrize("family", MARKUP)
def test_html_handling_is_linear(family):
    # The total of attributes is bounded for other reasons (the parsers' time is quadratic only within one tag):
    # unbounded here, so that documents with many attributes are parsed, not refused.
    limits = HtmlLimits(LIMITS.per_element, total=10**9)

    def round_trip(html):
        try:
            document = HtmlDocument(html, True, limits)
        except (InvalidText, ArticleTooLong):  # nested past the limit, or too many attributes: refused, quickly too
            return
        document.fill(["x"] * len(document.sentences))

    # 480 000 characters (24× the article limit): the n/8 run then lasts long enough (> 20 ms) to be timed well.
    assert_linear("HtmlDocument", round_trip, f"html {family}", 480_000, 2.0, MARKUP[family])


# --- attributes (issue 25, item 5) ----------------------------------------------------------------------------------
HIDDEN_ATTRIBUTES = {
    "plain": lambda k: f"<p {distinct_attributes(k)}>क</p>",
    "no spaces": lambda k: "<p " + "".join(f'a{i}="1"' for i in range(k)) + ">क</p>",
    "slashes": lambda k: "<p/" + "/".join(f"a{i}" for i in range(k)) + ">क</p>",
    "newlines and tabs": lambda k: "<P\n" + "\t\n".join(f"A{i}=x" for i in range(k)) + ">क</P>",
    "behind a quoted >": lambda k: f'<p x=">" {distinct_attributes(k)}>क</p>',
    "after a comment with a quote": lambda k: f'<!-- <a x=" --><p {distinct_attributes(k)}>क</p><!-- " -->',
    "after a script": lambda k: f'<script>var a = "<a x=\'";</script><p {distinct_attributes(k)}>क</p>',
    "in an end tag": lambda k: f"<p>क</p {distinct_attributes(k)}>",
    "in a tag left open": lambda k: f"<p>क</p><p {distinct_attributes(k)}",
    "split over repeated tags": lambda k: "<p>क</p>" + "".join(f"<body a{i}>" for i in range(k)),
}


@pytest.mark.parametrize("shape", HIDDEN_ATTRIBUTES)
def test_too_many_attributes_are_refused_however_written(shape):
    over, under = LIMITS.per_element + 1, LIMITS.per_element // 2
    if shape == "split over repeated tags":  # no tag is over the bound; the total is
        over, under = LIMITS.total + 1, LIMITS.per_element
    with pytest.raises(ArticleTooLong, match="max_html_attributes"):
        HtmlDocument(HIDDEN_ATTRIBUTES[shape](over), False, LIMITS)
    assert "क" in HtmlDocument(HIDDEN_ATTRIBUTES[shape](under), False, LIMITS).plain_text()


def test_the_attribute_count_is_never_below_the_parsers():
    """Random tag soup: the count, taken before parsing, is at least what libxml2 puts on any element and in all."""
    alphabet = list("<<<>>/ =\"'\n\tabxy01!-?&;") + ["<!--", "-->", "<script>", "</script>", "<p ", "</", "<textarea>",
                                                     "<style>", "<![CDATA[", "]]>", "क", "<क", "<title>", "<svg>",
                                                     "<html ", "<body ", "</p ", "<plaintext>", "<?", "<!"]  # fmt: skip
    rng = random.Random(25)
    for _ in range(3000):
        soup = "".join(rng.choice(alphabet) + (str(rng.randrange(30)) if rng.random() < 0.3 else "")
                       for _ in range(rng.randrange(1, 50)))  # fmt: skip
        document = lxml.html.document_fromstring(html_doc._wrapped(soup))
        counts = [(e.tag, len(e.attrib)) for e in document.iter() if isinstance(e.tag, str)]
        counted = count_attributes(html_doc._wrapped(soup))
        # html and body gather the attributes of every misplaced <html> and <body> tag: bounded by the total.
        most = max((n for tag, n in counts if tag not in ("html", "body")), default=0)
        assert most <= counted.most_in_one_tag, repr(soup)
        assert sum(n for _, n in counts) <= counted.total, repr(soup)


def test_an_ordinary_post_is_counted_exactly():
    counted = count_attributes(POST)
    parsed = [len(e.attrib) for e in lxml.html.fragment_fromstring(POST, create_parent="div").iter()]
    assert (counted.most_in_one_tag, counted.total) == (max(parsed), sum(parsed)) == (3, 16)


def test_attribute_bounds_answer_413_naming_the_limit(client):
    many = f"<p {distinct_attributes(LIMITS.per_element + 1)}>क</p>"
    spread = "<p>क</p>" + "<i a b c d e f g h i j>" * (LIMITS.total // 10 + 1)  # within the article's characters
    assert len(spread) < DEFAULTS.max_article_chars
    for html, limit in ((many, "(max_html_attributes_per_element)"), (spread, "(max_html_attributes)")):
        response = client.post("/summarize", json={"text": html, "options": {"format": "html"}})
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "article_too_long" and limit in error["message"]


def test_html_work_stops_between_steps_once_abandoned():
    steps = []

    def check():
        steps.append(len(steps))
        if len(steps) > 1:
            raise DeadlineExceeded("abandoned")

    with pytest.raises(DeadlineExceeded):
        HtmlDocument(POST, False, LIMITS, check)
    assert steps == [0, 1]  # checked after the first parse, stopped at the next check


# --- control characters (item 6) ------------------------------------------------------------------------------------
CONTROLS = ([chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + [chr(c) for c in range(0x7F, 0xA0)]
            + ["\ud800", "\udfff", "\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"])  # fmt: skip
PLACES = {
    "text": "<p>क{c}ख</p>",
    "attribute value": '<p title="क{c}ख"><img alt="{c}क" src="a.jpg">क</p>',
    "attribute name": "<p ti{c}tle=\"क\" {c}lang=hi>क</p>",
    "comment": "<p>क<!-- wp:x {c} -->ख</p>",
    "cdata": "<p>क<![CDATA[{c}]]>ख</p>",
    "tag name": "<p>क<b{c}>ख</b{c}></p>",
    "outside any element": "{c}ख <p>क</p>{c}",
}
REFERENCES = {
    "text": "<p>क{c}ख</p>",
    "outside any element": "{c}ख <p>क</p>{c}",
    "attribute value": '<p title="क{c}ख"><img alt="{c}क" src="a.jpg">क</p>',
    "href": '<p><a href="https://x.example/{c}">क</a></p>',
}


def _assert_clean(document: HtmlDocument, character: str, where: str):
    html, paragraphs = document.fill([sentence + character for sentence in document.sentences])
    assert "क" in document.plain_text(), where
    for text in (html, *paragraphs, document.plain_text(), *document.sentences):
        assert character not in text, where


@pytest.mark.parametrize("place", PLACES)
def test_control_characters_are_dropped_wherever_they_are(place):
    for character in CONTROLS:
        _assert_clean(HtmlDocument(PLACES[place].format(c=character), True, LIMITS), character, repr(character))


@pytest.mark.parametrize("place", REFERENCES)
def test_control_characters_written_as_character_references_are_dropped(place):
    for character in CONTROLS:
        reference = f"&#x{ord(character):x};"
        document = HtmlDocument(REFERENCES[place].format(c=reference), True, LIMITS)
        _assert_clean(document, character, reference)


@pytest.mark.parametrize("attributes", [False, True])
def test_control_characters_get_a_translation_not_a_500(client, attributes):
    controls = "".join(c for c in CONTROLS if not "\ud800" <= c <= "\udfff")  # JSON has no lone surrogates
    html = f'<p title="शीर्षक{controls}">आज{controls} बारिश&#x1c;&#x1f; हुई।<!--{controls}--></p>'
    result = html_of(client, html, html_attributes=attributes)
    assert not any(c in result["translation"]["html"] for c in controls)


# --- sentences and characters count as in text mode (item 9) --------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["/summarize", "/translate"])
def test_an_inline_markup_flood_counts_its_sentences(client, endpoint):
    flood = "<p>" + "<b>क</b> " * (DEFAULTS.max_sentences_per_article + 1) + "</p>"  # one paragraph, 1 001 runs
    body = {"text": flood, "options": {"format": "html"}} if endpoint == "/summarize" else {"text": flood, "format": "html"}
    response = client.post(endpoint, json=body)
    assert response.status_code == 413, response.text
    assert "sentences" in response.json()["error"]["message"]


def test_markup_counts_toward_the_article_characters(client):
    html = "<p>क</p>" + '<span class="wp-block"></span>' * (DEFAULTS.max_article_chars // 20)
    assert len(html) > DEFAULTS.max_article_chars
    response = client.post("/summarize", json={"text": html, "options": {"format": "html"}})
    assert response.status_code == 413 and "characters" in response.json()["error"]["message"]


# --- URLs (low) -------------------------------------------------------------------------------------------------------
DANGEROUS = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "  javascript:alert(1)", "jav&#x09;ascript:alert(1)",
             "jav&#x0A;ascript:alert(1)", "jav&#13;ascript:alert(1)", "javascript&#x09;:alert(1)",
             "&#106;avascript:alert(1)", "javascript&colon;alert(1)", "&#x01;javascript:alert(1)",
             "java\x01script:alert(1)", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
             "DATA:image/svg+xml,<svg onload=alert(1)>", "vbscript:msgbox(1)"]  # fmt: skip
URL_PLACES = ['<p><a href="{u}">क</a></p>', '<p><img src="{u}" alt="क"></p>', '<p><img src="a.jpg" srcset="{u}">क</p>',
              '<p><img src="a.jpg" srcset="a.jpg 1x, {u} 2x">क</p>', '<picture><source srcset="b.jpg 1x,{u} 2x"></picture>',
              '<blockquote cite="{u}"><p>क</p></blockquote>', '<p><q cite="{u}">क</q></p>',
              '<form action="{u}"><button formaction="{u}">क</button></form>', '<video poster="{u}"></video><p>क</p>',
              '<table background="{u}"><tr><td>क</td></tr></table>', '<svg><a xlink:href="{u}">क</a></svg>',
              '<object data="{u}"></object><p>क</p>', '<p><img src="a.jpg" longdesc="{u}">क</p>',
              '<p><a href="https://x.example" ping="{u}">क</a></p>']  # fmt: skip


def _urls(html: str) -> list[str]:
    """Every attribute value of the document, as a browser would read its URLs (tabs and newlines out)."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    values = [v for e in root.iter() if isinstance(e.tag, str) for v in e.attrib.values()]
    return [re.sub(r"[\t\n\r]", "", piece).strip("\x00 ").lower()
            for value in values for piece in [value, *re.split(r"[\s,]+", value)]]  # fmt: skip


@pytest.mark.parametrize("place", URL_PLACES)
def test_no_url_attribute_keeps_a_dangerous_scheme(place):
    for url in DANGEROUS:
        document = HtmlDocument(place.format(u=url), True, LIMITS)
        html, _ = document.fill(document.sentences)
        assert not [u for u in _urls(html) if u.startswith(("javascript:", "data:", "vbscript:"))], (url, html)


def test_safe_urls_are_kept():
    html = ('<p><a href="mailto:desk@example.com">क</a> <a href="/hi/news?id=1">ख</a></p>'
            '<figure><img src="https://example.com/a.jpg" srcset="https://example.com/a.jpg 1x, /b,c.jpg 2x" alt="">'
            '</figure><blockquote cite="https://example.com/source"><p>ग</p></blockquote>')  # fmt: skip
    assert sanitize(html) == html


# --- documents pasted whole ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("html", ["<p>क</p></html><p>ख</p>", "<p>क</p></body><p>ख</p>", "<html><body><p>क</p></body></html><p>ख",
                                  "<HTML lang=hi><p>क</P></HTML ><p>ख"])  # fmt: skip
def test_a_whole_document_keeps_all_its_text(html):
    assert HtmlDocument(html, False, LIMITS).plain_text() == "क\nख"


@pytest.mark.parametrize("html", ["<html>", "<html><head><title>x</title></head></html>", "<html><frameset></frameset>"])
def test_a_document_without_a_body_is_empty_text_not_a_crash(html, client):
    response = client.post("/summarize", json={"text": html, "options": {"format": "html"}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "empty_text"


def test_sanitize_keeps_block_comments_and_links_as_they_are():
    html = '<!-- wp:paragraph --><p><a href="https://x.example/a?b=1&amp;c=2" target="_blank">क</a></p><!-- /wp:paragraph -->'
    assert sanitize(html) == html
