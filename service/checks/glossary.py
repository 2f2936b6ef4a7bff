"""The ``glossary`` check: every glossary term found in the source has its target in the translation.

Terms are matched as whole words of the source, longest first (``भारतीय जनता पार्टी`` before ``पार्टी``): a word is
letters with their combining marks, so ``भारत`` is not found inside ``भारतीय``, and Hindi's postpositions (में, का,
ने), written as words of their own, never hide a term. Targets are found as whole words of the output, in any case,
and also in the plural (``MLA`` in ``MLAs``).
"""

from collections import defaultdict
from collections.abc import Mapping

from .findings import Finding
from .tokens import tokens

_ENDINGS = ("", "s", "es")  # a possessive's "s" is a word of its own


def _words(text: str) -> tuple[str, ...]:
    return tuple(t.key for t in tokens(text))


class Glossary:
    """Entries indexed by their first word, so that a text is read once whatever the glossary's size."""

    def __init__(self, entries):
        """``entries``: (source, target) pairs, or {"source", "target"} objects as the API takes them."""
        self.by_first_word: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for entry in entries:
            source, target = (entry["source"], entry["target"]) if isinstance(entry, Mapping) else entry
            words = _words(source)
            if words and _words(target):
                self.by_first_word[words[0]].append((words, target))
        for terms in self.by_first_word.values():
            terms.sort(key=lambda term: -len(term[0]))

    def __bool__(self):
        return bool(self.by_first_word)

    def terms_in(self, text: str) -> dict[str, str]:
        """{target: the source term as written} for the terms in ``text``, longest match first, not overlapping."""
        toks = tokens(text)
        words = [t.key for t in toks]
        found, i = {}, 0
        while i < len(words):
            for term, target in self.by_first_word.get(words[i], ()):
                if tuple(words[i : i + len(term)]) == term:
                    found.setdefault(target, text[toks[i].start : toks[i + len(term) - 1].end])
                    i += len(term)
                    break
            else:
                i += 1
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
    words = _words(output)
    positions = _positions(words)
    for target, term in glossary.terms_in(source).items():
        if not _has(_words(target), words, positions):
            detail = f"the glossary renders '{term}' as '{target}'; the output does not have it"
            findings.append(Finding("glossary", "error", where, (0, len(output)), target, detail))
    return findings
