"""HTML mode: a post body in, the same document with its text in English out.

The markup is parsed (lxml, libxml2's HTML parser: linear, and it stops at 256 levels of nesting, which is refused
here rather than cut silently), sanitized (nh3, the Rust ``ammonia`` sanitizer: no script, style, event handler or
``javascript:`` URL survives; WordPress block comments such as ``<!-- wp:paragraph -->`` are kept in place; its cost
grows with nesting depth, which the first parse bounds), and parsed again. The units of translation are the innermost
block elements that hold text (``p``, ``h1``–``h6``, ``li``, ``blockquote``, ``figcaption``, table cells, …). Text
inside ``pre`` and ``code`` is never translated.

Inline markup (``a``, ``strong``, ``em``, ``b``, ``i``, ``span``, …) survives by an alignment-free method: each
text node of a unit is translated on its own, and the tree is written back with every element, attribute and
``href`` exactly where it was, so the output's tag sequence is the input's. The limit: words cannot move across an
inline boundary (English word order may need them to), and a short text node is translated without its neighbours'
context. A unit without inline markup is one text node, translated with the full context of its sentences.
"""

from dataclasses import dataclass

import lxml.html
import nh3
import regex
from lxml import etree

from ..errors import InvalidText

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


def sanitize(html: str) -> str:
    """Allowed tags and attributes only; scripts and styles dropped with their content; comments kept."""
    return nh3.clean(
        html, tags=_ALLOWED_TAGS, attributes=_ATTRIBUTES, clean_content_tags={"script", "style"},
        strip_comments=False, link_rel=None, url_schemes={"http", "https", "mailto"},
    )  # fmt: skip


def _parse(html: str) -> etree._Element:
    """The fragment under a ``div``; ``InvalidText`` (422 ``html_too_deep``) where libxml2 hit its nesting limit."""
    parser = lxml.html.HTMLParser()
    root = lxml.html.fragment_fromstring(html or "", create_parent="div", parser=parser)
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        raise InvalidText("the HTML is nested more than 255 elements deep", code="html_too_deep")
    return root


def _serialize(root: etree._Element) -> str:
    """The children of a parsed fragment's ``div``, as HTML."""
    return (root.text or "") + "".join(lxml.html.tostring(c, encoding="unicode", with_tail=True) for c in root)


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
    """A sanitized, parsed post body; ``texts`` are its translatable pieces, ``fill`` puts translations back."""

    def __init__(self, html: str, attributes: bool = False):
        self.root = _parse(sanitize(_serialize(_parse(html))))
        self.units: list[etree._Element] = []
        self.slots: list[_Slot] = []
        self._collect(self.root, None, attributes)

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
        return [slot.get() for slot in self.slots if slot.translate]

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
        """Translations back into their slots (the spaces around each kept), then (HTML, English paragraphs)."""
        for slot, english in zip([s for s in self.slots if s.translate], translations, strict=True):
            original = slot.get()
            lead = original[: len(original) - len(original.lstrip())]
            trail = original[len(original.rstrip()) :]
            slot.set(lead + english.strip() + trail)
        return sanitize(_serialize(self.root)), self._paragraphs()
