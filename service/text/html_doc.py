"""HTML mode: a post body in, the same document with its text in English out.

Control characters are dropped as in text mode (before parsing, and again after it, where character references such
as ``&#x1c;`` put them). The attributes are counted (``html_attributes``: both parsers
take time quadratic in the attributes of one tag) and a text with too many is refused. The markup is then parsed
(lxml, libxml2's HTML parser: linear, and it stops at 256 levels of nesting, which is refused here rather than cut
silently), sanitized (nh3, the Rust ``ammonia`` sanitizer: no script, style, event handler, and no URL with a scheme
other than http, https or mailto in any attribute that holds one; WordPress block comments such as
``<!-- wp:paragraph -->`` are kept in place; its cost grows with nesting depth, which the first parse bounds), and
parsed again. The units of translation are the innermost block elements that hold text (``p``, ``h1``–``h6``,
``li``, ``blockquote``, ``figcaption``, table cells, …). Text inside ``pre`` and ``code`` is never translated.

Inline markup (``a``, ``strong``, ``em``, ``b``, ``i``, ``span``, …) survives by an alignment-free method: each
text node of a unit is translated on its own, and the tree is written back with every element, attribute and
``href`` exactly where it was, so the output's tag sequence is the input's. The limit: words cannot move across an
inline boundary (English word order may need them to), and a short text node is translated without its neighbours'
context. A unit without inline markup is one text node, translated with the full context of its sentences.
"""

from collections.abc import Callable
from dataclasses import dataclass

import lxml.html
import nh3
import regex
from lxml import etree

from ..errors import ArticleTooLong, InvalidText
from .checks import strip_controls
from .html_attributes import count_attributes
from .splitting import split_sentences

# Block elements whose text is translated as a unit (the innermost such element holding the text).
UNITS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "figcaption", "td", "th",
                   "caption", "dt", "dd", "summary"})  # fmt: skip
UNTOUCHED = frozenset({"pre", "code", "kbd", "samp"})
TRANSLATED_ATTRIBUTES = ("alt", "title")
_LETTER = regex.compile(r"\p{L}")  # a text node without a letter (a comma, a figure) is kept as it is

_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {"figure", "section", "main", "picture", "source"}
_GENERIC = {"class", "id", "lang", "dir", "title"}
_ATTRIBUTES = {
    "*": _GENERIC,
    "a": {"href", "target", "rel", "hreflang"},
    "img": {"src", "alt", "width", "height", "srcset", "sizes", "loading"},
    "source": {"srcset", "sizes", "type", "media"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "ol": {"start", "reversed", "type"},
}


SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Attributes of HTML, SVG and MathML whose value is a URL (srcset, imagesrcset and ping: a list of them). Only some
# are allowed at all; the rule holds for each, so allowing one later cannot let a dangerous URL through.
URL_ATTRIBUTES = frozenset({"href", "src", "srcset", "imagesrcset", "cite", "action", "formaction", "poster",
                            "background", "xlink:href", "data", "longdesc", "ping", "codebase", "classid", "archive",
                            "manifest", "icon", "usemap", "profile", "lowsrc", "dynsrc", "itemtype", "itemid"})  # fmt: skip
_SCHEME = regex.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_URL_IGNORED = regex.compile(r"[\t\n\r]")  # removed from anywhere in a URL by browsers (so "jav\tascript:" runs)
_URL_SEPARATOR = regex.compile(r"[\t\n\f\r ,]+")  # between the candidates of a srcset, the URLs of a ping
_C0_AND_SPACE = "".join(map(chr, range(0x21)))  # stripped from both ends of a URL by browsers


def _has_unsafe_scheme(url: str) -> bool:
    scheme, colon, _ = url.strip(_C0_AND_SPACE).partition(":")
    return bool(colon) and _SCHEME.fullmatch(scheme) is not None and scheme.lower() not in SAFE_SCHEMES


def _keep_safe_urls(tag: str, attribute: str, value: str) -> str | None:
    """nh3's filter of attribute values (given decoded: "&#x09;" is a tab here). A URL attribute is dropped where
    its value read whole (tabs and newlines taken out, as browsers do) or any piece of it (a srcset candidate, a
    ping URL) has a scheme but the safe ones; relative URLs stay."""
    if ":" not in value or attribute.lower() not in URL_ATTRIBUTES:  # no scheme without a colon
        return value
    urls = [_URL_IGNORED.sub("", value), *_URL_SEPARATOR.split(value)]
    return None if any(_has_unsafe_scheme(url) for url in urls) else value


def sanitize(html: str) -> str:
    """Allowed tags and attributes only; scripts and styles dropped with their content; comments kept; no URL with a
    scheme but http, https and mailto."""
    return nh3.clean(
        html, tags=_ALLOWED_TAGS, attributes=_ATTRIBUTES, clean_content_tags={"script", "style"},
        strip_comments=False, link_rel=None, url_schemes=set(SAFE_SCHEMES), attribute_filter=_keep_safe_urls,
    )  # fmt: skip


@dataclass(frozen=True)
class HtmlLimits:
    """Attributes one HTML text may hold (settings ``max_html_attributes_per_element`` and ``max_html_attributes``)."""

    per_element: int
    total: int


# A fragment's own </html> makes libxml2 stop (the rest is lost) and its </body> puts the rest outside the body:
# renamed, they are unknown end tags, which libxml2 ignores.
_DOCUMENT_END = regex.compile(r"</(?=(?:html|body)[\t\n\f\r />]|(?:html|body)$)", regex.IGNORECASE)


def _parse(html: str) -> etree._Element:
    """The fragment's nodes under a ``div``; ``InvalidText`` (422 ``html_too_deep``) where libxml2 hit its nesting
    limit. (lxml's ``fragment_fromstring`` fails on a fragment that starts with ``<html>`` but has no body.)"""
    parser = lxml.html.HTMLParser()
    document = lxml.html.document_fromstring(_wrapped(html), parser=parser)
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        raise InvalidText("the HTML is nested more than 255 elements deep", code="html_too_deep")
    root = document.find("body")  # the wrapper's: libxml2 keeps one body
    root.tag = "div"
    root.attrib.clear()  # where the attributes of misplaced <body> tags gather
    return root


def _wrapped(html: str) -> str:
    """What libxml2 parses: the fragment in a document's body."""
    return "<html><body>" + _DOCUMENT_END.sub("</x-", html) + "</body></html>"


def _check_attributes(html: str, limits: HtmlLimits) -> None:
    """``ArticleTooLong`` (413) naming the limit where a tag, or the whole text, holds too many attributes."""
    count = count_attributes(html)
    if count.most_in_one_tag > limits.per_element:
        raise ArticleTooLong(f"an HTML tag with {count.most_in_one_tag} attributes, over the limit of "
                             f"{limits.per_element} per element (max_html_attributes_per_element)")  # fmt: skip
    if count.total > limits.total:
        raise ArticleTooLong(f"{count.total} HTML attributes, over the limit of {limits.total} "
                             "(max_html_attributes)")  # fmt: skip


def _serialize(root: etree._Element) -> str:
    """What a parsed fragment's ``div`` holds, as HTML (its leading text escaped like the rest)."""
    return lxml.html.tostring(root, encoding="unicode")[len("<div>") : -len("</div>")]


@dataclass
class _Slot:
    """Where one piece of text lives: an element's ``text`` or ``tail``, or one of its attributes."""

    element: etree._Element
    field: str  # "text", "tail" or "attr:<name>"
    unit: int  # the unit it belongs to (-1: an attribute outside any unit)
    translate: bool = True  # False: no letter in it (a figure, punctuation): kept as it is

    def get(self) -> str:
        if self.field.startswith("attr:"):
            return self.element.get(self.field[5:], "")
        return getattr(self.element, self.field) or ""

    def set(self, value: str) -> None:
        if self.field.startswith("attr:"):
            self.element.set(self.field[5:], value)
        else:
            setattr(self.element, self.field, value)


class HtmlDocument:
    """A sanitized, parsed post body; ``sentences`` are what is to be translated (each translatable text node's, in
    document order), ``fill`` puts their translations back. Each step is linear in the text; ``check`` (the
    request's deadline check) runs between them, so an abandoned request stops there."""

    def __init__(
        self,
        html: str,
        attributes: bool,
        limits: HtmlLimits,
        check: Callable[[], None] = lambda: None,
        lang: str | None = "hin_Deva",
    ):
        """``lang``: the language whose rules split the sentences; None leaves ``sentences`` empty until ``split``
        (a document whose language is detected from its ``plain_text``)."""
        html = strip_controls(html)
        _check_attributes(_wrapped(html), limits)
        root = _parse(html)
        check()
        # Both serializers write characters as they are, so those that character references (&#x1c;) put in the
        # first tree are in this string and go here.
        html = strip_controls(sanitize(_serialize(root)))
        check()
        self.root = _parse(html)
        self.units: list[etree._Element] = []
        self.slots: list[_Slot] = []
        self._collect(self.root, None, attributes)
        self._translated = [slot for slot in self.slots if slot.translate]
        self.sentences: list[str] = []
        self._owners: list[int] = []  # the slot (index in ``_translated``) each sentence is from
        if lang is not None:
            self.split(lang)

    def split(self, lang: str) -> None:
        """``sentences``: each translatable text node's, by the rules of ``lang`` (a FLORES-200 code)."""
        self.sentences, self._owners = [], []
        for index, text in enumerate(self.texts):
            for sentence in split_sentences(text, lang) or [text.strip()]:
                self.sentences.append(sentence)
                self._owners.append(index)

    def _collect(self, element, unit: int | None, attributes: bool) -> None:
        """Walks the tree in document order. A unit element starts a unit (a unit nested in another, such as a list
        inside a list item, is one of its own); text inside a unit becomes a slot; text outside units stays."""
        if not isinstance(element.tag, str) or element.tag in UNTOUCHED:  # comments, code, pre
            return
        if element.tag in UNITS:
            self.units.append(element)
            unit = len(self.units) - 1
        if attributes:
            for name in TRANSLATED_ATTRIBUTES:
                if _LETTER.search(element.get(name, "")):
                    self.slots.append(_Slot(element, "attr:" + name, -1 if unit is None else unit))
        if unit is not None and (element.text or "").strip():
            self.slots.append(_Slot(element, "text", unit, bool(_LETTER.search(element.text))))
        for child in element:
            self._collect(child, unit, attributes)
            if unit is not None and (child.tail or "").strip():  # text after a child, comments included
                self.slots.append(_Slot(child, "tail", unit, bool(_LETTER.search(child.tail))))

    @property
    def texts(self) -> list[str]:
        """What is to be translated, in document order."""
        return [slot.get() for slot in self._translated]

    def _paragraphs(self) -> list[str]:
        """Each unit's own text (its nested units apart), whitespace collapsed; empty units left out."""
        parts: list[list[str]] = [[] for _ in self.units]
        for slot in self.slots:
            if slot.unit >= 0 and not slot.field.startswith("attr:"):
                parts[slot.unit].append(slot.get().strip())
        return [" ".join(" ".join(p).split()) for p in parts if p]

    def plain_text(self) -> str:
        """The units' text, one paragraph each (what the summarizer reads)."""
        return "\n".join(self._paragraphs())

    def fill(self, translations: list[str]) -> tuple[str, list[str]]:
        """The translations of ``sentences`` back into their slots (the spaces around each kept), then (HTML,
        English paragraphs)."""
        per_slot: list[list[str]] = [[] for _ in self._translated]
        for index, english in zip(self._owners, translations, strict=True):
            per_slot[index].append(english)
        for slot, english in zip(self._translated, per_slot, strict=True):
            original = slot.get()
            lead = original[: len(original) - len(original.lstrip())]
            trail = original[len(original.rstrip()) :]
            slot.set(lead + strip_controls(" ".join(english).strip()) + trail)
        return sanitize(_serialize(self.root)), self._paragraphs()
