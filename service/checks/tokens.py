"""Words and numbers of a text with their spans, the spelling variants Hindi words are compared without, and the
spans of a text's sentences. Every pattern here runs in linear time whatever a caller sends."""

import unicodedata
from dataclasses import dataclass
import regex

from ..text.checks import SCRIPTS
from ..text.splitting import split_sentences

# A number: digits of any script with inner separators (1,45,000 · 2.5 · 10:30 · १५.०८.२०२४); or a word: letters
# with their combining marks (a Devanagari word's vowel signs are marks, not letters). Possessive throughout: a match
# never gives back what it took, so each character is read once (and ``regex``'s matches are cheaper than RE2's
# Python wrapper's, which this pattern, run on every check's texts, would pay for every word).
_TOKEN = regex.compile(r"(\d++(?:[.,:]\d++)*+)|([\p{L}\p{M}]++)")
_NUKTA, _CHANDRABINDU, _ANUSVARA = "\u093c", "\u0901", "\u0902"
# What ``str.split`` splits on is ``\s`` and the four information separators.
_NON_SPACE = regex.compile(r"[^\s\x1c-\x1f]++")
# Characters of the scripts an article may be written in (the source scripts the service accepts), as a class body.
INDIC_LETTERS = "".join(rf"\p{{{name}}}" for name in SCRIPTS.values())


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str
    is_number: bool

    @property
    def key(self) -> str:
        """The word as looked up: lower case, Devanagari without the spelling variants (see ``fold``)."""
        return fold(self.text).lower()


def fold(word: str) -> str:
    """A Hindi word without the variants its spellings take: nukta dropped (हज़ार = हजार, करोड़ = करोड), candrabindu
    written as anusvara (पाँच = पांच)."""
    return unicodedata.normalize("NFC", word).replace(_NUKTA, "").replace(_CHANDRABINDU, _ANUSVARA)


def tokens(text: str) -> tuple[Token, ...]:
    return tuple(Token(m.start(), m.end(), m.group(), m.group(1) is not None) for m in _TOKEN.finditer(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the text's sentences, as the service splits them (``split_sentences``, per line), in ``text``'s own
    offsets: the splitter normalizes whitespace, so its sentences are mapped back word by word."""
    spans, offset = [], 0
    for line in text.split("\n"):
        words = [(m.start() + offset, m.end() + offset) for m in _NON_SPACE.finditer(line)]
        first = 0
        for sentence in split_sentences(line):
            count = len(sentence.split())
            spans.append((words[first][0], words[first + count - 1][1]))
            first += count
        offset += len(line) + 1
    return spans

