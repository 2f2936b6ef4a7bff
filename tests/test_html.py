"""HTML mode: WordPress-style post bodies keep their document (tag sequence, hrefs, block comments, code), lose any
script, and are handled in time linear in their size."""

import re

import lxml.html
import pytest

from service.errors import InvalidText
from service.text.html_doc import HtmlDocument, sanitize

from .test_linear_text import assert_linear

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


MARKUP = {
    "nested inline": lambda n: "<p>" + "<b><i>क " * (n // 8) + "</i></b>" * (n // 8) + "</p>",
    "unclosed formatting": lambda n: "<p>" + "<b>क</b><i>" * (n // 12),
    "many paragraphs": lambda n: "<p>क ख</p>" * (n // 8),
    "misnested": lambda n: "<a href='x'><p>क</a></p>" * (n // 20),
    "deep lists": lambda n: "<ul><li>क" * 100 + "</li></ul>" * 100 + "<ul><li>क</li></ul>" * (n // 20),
    "comments": lambda n: "<!-- wp:paragraph --><p>क</p>" * (n // 32),
}


@pytest.mark.parametrize("family", MARKUP)
def test_html_handling_is_linear(family):
    def round_trip(html):
        try:
            document = HtmlDocument(html, attributes=True)
        except InvalidText:  # nested past the limit: refused, which must be quick too
            return
        document.fill(["x"] * len(document.texts))

    # 480 000 characters (24× the article limit): the n/8 run then lasts long enough (> 20 ms) to be timed well.
    assert_linear("HtmlDocument", round_trip, f"html {family}", 480_000, 2.0, MARKUP[family])


def test_sanitize_keeps_block_comments_and_links_as_they_are():
    html = '<!-- wp:paragraph --><p><a href="https://x.example/a?b=1&amp;c=2" target="_blank">क</a></p><!-- /wp:paragraph -->'
    assert sanitize(html) == html
