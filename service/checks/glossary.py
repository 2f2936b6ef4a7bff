"""The ``glossary`` check: every glossary term found in the source has its target in the translation.

Terms are matched as whole words of the source, longest first (``भारतीय जनता पार्टी`` before ``पार्टी``): a word is
letters with their combining marks, so ``भारत`` is not found inside ``भारतीय``, and Hindi's postpositions (में, का,
ने), written as words of their own, never hide a term. Targets are found as whole words of the output, in any case,
and also in the plural (``MLA`` in ``MLAs``). The same matching enforces a glossary in translation: the translator
reads each term as a placeholder and writes its target back (``service.text.indic_processing``).
"""

import unicodedata
from collections import defaultdict
from collections.abc import Mapping

from .findings import Finding
from .tokens import Token, tokens

_ENDINGS = ("", "s", "es")  # a possessive's "s" is a word of its own
_TARGET = None  # a trie node's key for the target of the term that ends there (words are strings)


def _key(token: Token) -> str:
    """A word as terms are matched: ``Token.key``; a number in ASCII digits (the translator reads २०२४ as 2024)."""
    if token.is_number:
        return "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in token.text)
    return token.key


def term_words(text: str) -> tuple[str, ...]:
    """A text's words as terms are matched: two sources with the same words are one term."""
    return tuple(_key(t) for t in tokens(text))


class Glossary:
    """Entries in a trie of their words, so that a text is read once whatever the glossary's size: at each word the
    longest term starting there is found in at most as many steps as the longest term has words."""

    def __init__(self, entries):
        """``entries``: (source, target) pairs, or {"source", "target"} objects as the API takes them. Of two entries
        with the same source words, the first counts."""
        self._trie: dict = {}
        for entry in entries:
            source, target = (entry["source"], entry["target"]) if isinstance(entry, Mapping) else entry
            words = term_words(source)
            if words and term_words(target):
                node = self._trie
                for word in words:
                    node = node.setdefault(word, {})
                node.setdefault(_TARGET, target)

    def __bool__(self):
        return bool(self._trie)

    def _longest_at(self, words: list[str], i: int) -> tuple[int, str | None]:
        """(words, target) of the longest term starting at word ``i``; (0, None) when none does."""
        node, best, j = self._trie, (0, None), i
        while j < len(words) and (node := node.get(words[j])) is not None:
            j += 1
            if _TARGET in node:
                best = (j - i, node[_TARGET])
        return best

    def matches(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, target) of every term in ``text``, in order: longest match first, never overlapping."""
        toks = tokens(text)
        words = [_key(t) for t in toks]
        found, i = [], 0
        while i < len(words):
            length, target = self._longest_at(words, i)
            if target is None:
                i += 1
                continue
            found.append((toks[i].start, toks[i + length - 1].end, target))
            i += length
        return found

    def terms_in(self, text: str) -> dict[str, str]:
        """{target: the source term as written} for the terms in ``text`` (its first occurrence)."""
        found = {}
        for start, end, target in self.matches(text):
            found.setdefault(target, text[start:end])
        return found


def _positions(words: tuple[str, ...]) -> dict[str, list[int]]:
    where = defaultdict(list)
    for i, word in enumerate(words):
        where[word].append(i)
    return where


def _has(target: tuple[str, ...], words: tuple[str, ...], positions: dict[str, list[int]]) -> bool:
    """Whether ``words`` hold the target's words in a row, its last word perhaps in the plural."""
    head, last = target[:-1], target[-1]
    for ending in _ENDINGS:
        for i in positions.get(last + ending, ()):
            if i >= len(head) and words[i - len(head) : i] == head:
                return True
    return False


def check_glossary(glossary: Glossary, source: str, output: str, where: str) -> list[Finding]:
    findings = []
    words = term_words(output)
    positions = _positions(words)
    for target, term in glossary.terms_in(source).items():
        if not _has(term_words(target), words, positions):
            detail = f"the glossary renders '{term}' as '{target}'; the output does not have it"
            findings.append(Finding("glossary", "error", where, (0, len(output)), target, detail))
    return findings
