"""Patterns over request text that run in time linear in the text, whatever a caller sends.

Python's regex engines backtrack: upstream IndicTrans2's number pattern takes cubic time on a run of digits, its
e-mail, handle and URL patterns quadratic time on long runs. Patterns without look-arounds are compiled with RE2 (a
finite-automaton engine: linear time, and the same leftmost-first matches a backtracking engine finds); their
``\\d``, ``\\s`` and ``\\w`` are translated into the exact code-point sets they have in the ``regex`` module, so the
matches do not change. The URL pattern needs look-arounds RE2 lacks, so it is a scanner (``url_spans``) that
returns what upstream's pattern returns, tested against it on random strings.
"""

import sys
from functools import lru_cache

import re2
import regex

_SURROGATES = range(0xD800, 0xE000)


@lru_cache(maxsize=1)
def _all_code_points() -> str:
    return "".join(map(chr, range(_SURROGATES.start))) + "".join(map(chr, range(_SURROGATES.stop, sys.maxunicode + 1)))


@lru_cache(maxsize=None)
def _code_point_class(shorthand: str) -> str:
    """The code points ``regex`` matches with a shorthand (``\\d``, ``\\s``, ``\\w``) as RE2 class ranges."""
    ranges = []
    for run in regex.finditer(shorthand + "+", _all_code_points()):
        first, last = run.start(), run.end() - 1  # string positions; past the surrogate gap they are shifted
        for lo, hi in ((first, min(last, _SURROGATES.start - 1)), (max(first, _SURROGATES.start), last)):
            if lo <= hi:
                lo, hi = (c + len(_SURROGATES) if c >= _SURROGATES.start else c for c in (lo, hi))
                ranges.append(f"\\x{{{lo:X}}}" + (f"-\\x{{{hi:X}}}" if hi != lo else ""))
    return "".join(ranges)


def compile_linear(pattern: str):
    """An RE2 pattern with ``regex``'s meaning of ``\\d``, ``\\s`` and ``\\w`` (inside or outside brackets)."""
    translated, i = [], 0
    while i < len(pattern):
        pair = pattern[i : i + 2]
        if pair in ("\\d", "\\s", "\\w"):
            inside = pattern[:i].count("[") > pattern[:i].count("]")  # simple classes only: no nested brackets
            ranges = _code_point_class(pair)
            translated.append(ranges if inside else f"[{ranges}]")
            i += 2
        elif pattern[i] == "\\":
            translated.append(pair)
            i += 2
        else:
            translated.append(pattern[i])
            i += 1
    return re2.compile("".join(translated))


# --- URLs ------------------------------------------------------------------------------------------------------------
# Upstream's pattern, for reference (and for the test that compares the scanner with it):
URL_UPSTREAM = r"\b(?<![\w/.])(?:(?:https?|ftp)://)?(?:(?:[\w-]+\.)+(?!\.))(?:[\w/\-?#&=%.]+)+(?!\.\w+)\b"
_URL_START = regex.compile(r"(?<![\w/.])\b\w")  # where a match may begin: a word start not after / or .
_DOTTED_RUN = regex.compile(r"(?<![\w-])[\w-]++(?=\.)")
_LABEL = regex.compile(r"[\w-]*+")
_URL_RUN = regex.compile(r"[\w/\-?#&=%.]*+")
_URL_CHAR = regex.compile(r"[\w/\-?#&=%.]")
_WORD = regex.compile(r"\w")
_SCHEMES = ("https://", "http://", "ftp://")


def _is_word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and _WORD.match(text, i) is not None


def _valid_end(text: str, e: int) -> bool:
    """``(?!\\.\\w+)\\b`` at ``e``."""
    if _is_word(text, e - 1) == _is_word(text, e):
        return False
    return not (text[e : e + 1] == "." and _is_word(text, e + 1))


def _url_at(text: str, s: int) -> int | None:
    """The end of the URL match starting at ``s``, or None.

    The pattern is: scheme?, labels (``[\\w-]+\\.``, one or more, not followed by '.'), then a run of URL characters
    cut back to the last position that is a word boundary not followed by '.\\w'. Backtracking over the number of
    labels only adds candidate ends below those already tried, so the match ends at the last valid end E in the run,
    provided some label count leaves a non-empty, not-'.'-initial path before E.
    """
    p = s + len(next((scheme for scheme in _SCHEMES if text.startswith(scheme, s)), ""))
    label_ends, q = [], p
    while (label := _LABEL.match(text, q).end()) > q and text[label : label + 1] == ".":
        q = label + 1
        label_ends.append(q)
    admissible = [d for d in label_ends if text[d : d + 1] != "." and _URL_CHAR.match(text, d)]
    if admissible:
        run, lowest = _URL_RUN.match(text, p).end(), admissible[0]
        for e in range(run, lowest, -1):
            if _valid_end(text, e):
                return e
    return None


def url_spans(text: str) -> list[tuple[int, int]]:
    """The spans of ``regex.finditer(URL_UPSTREAM, text)``, in linear time.

    A match needs a first label: a maximal run of ``[\\w-]`` followed by '.', begun either by a scheme that ends
    where the run starts, or by a start inside the run. Every start inside one run sees the same labels and the same
    path, so only the first valid one is tried: retrying the others made "a-a-a-…" quadratic.
    """
    spans, done = [], 0
    for run in _DOTTED_RUN.finditer(text):
        a, b = run.span()
        starts = [a - len(scheme) for scheme in _SCHEMES if text.endswith(scheme, 0, a)]
        inside = _URL_START.search(text, max(a, done), b)
        starts += [inside.start()] if inside else []
        for start in starts:
            if start >= done and _URL_START.match(text, start) and (end := _url_at(text, start)) is not None:
                spans.append((start, end))
                done = end
                break
    return spans
