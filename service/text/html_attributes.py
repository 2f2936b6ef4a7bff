"""How many attributes an HTML text can hold, counted before any parser sees it.

libxml2 (lxml) and html5ever (nh3) both check each new attribute of a tag against all the tag's earlier ones: a tag
with k distinct attributes costs k² (one 340 KB tag: 2 s in lxml). So the attributes are counted first, in one linear
pass, and a text with too many is refused before it is parsed.

The count must never be lower than what a parser sees, whatever the text does to mislead it: a comment, a script or
a quoted value can each hide a "tag" from a scanner that guesses the context. So nothing is guessed: a tag is
followed from *every* ``<`` (or ``</``) before an ASCII letter, through the tag states of the HTML standard's
tokenizer (which libxml2 2.14 and html5ever follow): tag name, attribute name, the three kinds of value, and so on.
Tags that reach the same state at the same place go on identically, so they are followed as one, keeping the
largest count: at most one tag per state, so the pass is linear. It can count more than a parser (a ``<b`` inside a
comment is followed too), never fewer. The text must already be free of control characters (``text.checks``), so
that only tab, newline, carriage return and space are whitespace to every parser.
"""

import re
from dataclasses import dataclass

# The tokenizer's tag states.
(TAG_NAME, BEFORE_NAME, NAME, AFTER_NAME, BEFORE_VALUE, DOUBLE_QUOTED, SINGLE_QUOTED, UNQUOTED, AFTER_QUOTED,
 SELF_CLOSING) = range(10)  # fmt: skip
END = None  # the tag is closed by ">"
# Character classes: whitespace, "/", ">", "=", '"', "'", anything else.
SPACE, SLASH, GT, EQUALS, DOUBLE, SINGLE, OTHER = range(7)
_CLASS = {"\t": SPACE, "\n": SPACE, "\f": SPACE, "\r": SPACE, " ": SPACE, "/": SLASH, ">": GT, "=": EQUALS,
          '"': DOUBLE, "'": SINGLE}  # fmt: skip
_NEW = "new attribute"
# (state, class) → next state, or (_NEW, next state) where an attribute starts (the standard's "reconsume in …"
# steps are followed to the state that takes the character).
_STEP = {
    TAG_NAME: {SPACE: BEFORE_NAME, SLASH: SELF_CLOSING, GT: END},
    BEFORE_NAME: {SPACE: BEFORE_NAME, SLASH: SELF_CLOSING, GT: END},
    NAME: {SPACE: AFTER_NAME, SLASH: SELF_CLOSING, GT: END, EQUALS: BEFORE_VALUE},
    AFTER_NAME: {SPACE: AFTER_NAME, SLASH: SELF_CLOSING, GT: END, EQUALS: BEFORE_VALUE},
    BEFORE_VALUE: {SPACE: BEFORE_VALUE, GT: END, DOUBLE: DOUBLE_QUOTED, SINGLE: SINGLE_QUOTED},
    DOUBLE_QUOTED: {DOUBLE: AFTER_QUOTED},
    SINGLE_QUOTED: {SINGLE: AFTER_QUOTED},
    UNQUOTED: {SPACE: BEFORE_NAME, GT: END},
    AFTER_QUOTED: {SPACE: BEFORE_NAME, SLASH: SELF_CLOSING, GT: END},
    SELF_CLOSING: {SPACE: BEFORE_NAME, SLASH: SELF_CLOSING, GT: END},
}
# What any other character does in each state.
_OTHERWISE = {TAG_NAME: TAG_NAME, BEFORE_NAME: (_NEW, NAME), NAME: NAME, AFTER_NAME: (_NEW, NAME),
              BEFORE_VALUE: UNQUOTED, DOUBLE_QUOTED: DOUBLE_QUOTED, SINGLE_QUOTED: SINGLE_QUOTED, UNQUOTED: UNQUOTED,
              AFTER_QUOTED: (_NEW, NAME), SELF_CLOSING: (_NEW, NAME)}  # fmt: skip

# Runs of characters that leave a state as it is and cannot open a tag: skipped at once while one tag is followed.
_SAME = {TAG_NAME: re.compile(r"[^\t\n\f\r />=\"'<]+"), NAME: re.compile(r"[^\t\n\f\r />=<]+"),
         DOUBLE_QUOTED: re.compile(r'[^"<]+'), SINGLE_QUOTED: re.compile(r"[^'<]+"),
         UNQUOTED: re.compile(r"[^\t\n\f\r ><]+")}  # fmt: skip


@dataclass(frozen=True)
class AttributeCount:
    most_in_one_tag: int  # at least the attributes of the tag with the most
    total: int  # at least the attributes of all tags together


def _after_tag_open(html: str, i: int) -> bool:
    """Whether ``i`` follows ``<`` or ``</`` (where an ASCII letter starts a tag name)."""
    return html[i - 1 : i] == "<" or html[i - 2 : i] == "</"


# The common shape of a tag, without "<" inside (so no other tag opens in it): read at once, an attribute a match.
# Any other shape is followed character by character. (No pattern here can scan far and then fail: each is linear
# even searched for from every position.)
_BARE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*[\t\n\f\r ]*/?>")  # no attributes: the most common
_PLAIN_TAG_NAME = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*")
_SPACES = re.compile(r"[\t\n\f\r ]+")
_PLAIN_ATTRIBUTE = re.compile(r"""[A-Za-z_:][A-Za-z0-9_.:-]*"""
                              r"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"[^"<]*"|'[^'<]*'|[^\t\n\f\r "'=<>`]+))?""")  # fmt: skip
_PLAIN_TAG_END = re.compile(r"/?>")


def _plain_tag(html: str, i: int) -> tuple[int, int] | None:
    """(end, attributes) of a tag of the common shape at ``i``, else None."""
    if bare := _BARE_TAG.match(html, i):
        return bare.end(), 0
    if not (name := _PLAIN_TAG_NAME.match(html, i)):
        return None
    at, attributes = name.end(), 0
    while (space := _SPACES.match(html, at)) and (attribute := _PLAIN_ATTRIBUTE.match(html, space.end())):
        at, attributes = attribute.end(), attributes + 1
    end = _PLAIN_TAG_END.match(html, space.end() if space else at)
    return (end.end(), attributes) if end else None


def count_attributes(html: str) -> AttributeCount:
    """Upper bounds of the attributes in one tag and in all tags (see the module's note); linear in the text."""
    tags: dict[int, int] = {}  # state → the most attributes of a tag followed in that state
    most = total = 0
    i, n = 0, len(html)
    while i < n:
        if not tags and not _after_tag_open(html, i):  # between tags: on to the next "<"
            if (i := html.find("<", i)) < 0:
                break
            if plain := _plain_tag(html, i):
                i, attributes = plain
                most, total = max(most, attributes), total + attributes
            else:
                i += 1
            continue
        if len(tags) == 1 and (state := next(iter(tags))) in _SAME and not _after_tag_open(html, i):
            if same := _SAME[state].match(html, i):
                i = same.end()
                continue
        char = html[i]
        cls = _CLASS.get(char, OTHER)
        following: dict[int, int] = {}
        started = False
        for state, count in tags.items():
            step = _STEP[state].get(cls, _OTHERWISE[state])
            if isinstance(step, tuple):
                step, count, started = step[1], count + 1, True
            if step is not END and following.get(step, -1) < count:
                following[step] = count
        if started:
            total += 1
            most = max(most, *following.values())
        if char.isascii() and char.isalpha() and _after_tag_open(html, i):
            following.setdefault(TAG_NAME, 0)
        tags = following
        i += 1
    return AttributeCount(most, total)
