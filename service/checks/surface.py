"""Checks that read the surface of an output: the source's URLs, e-mails, handles and hashtags carried through
(``placeholder``), no source-script text left (``untranslated``), no degenerate loop (``repetition``), no model
debris (``artifact``: ``<unk>``, U+FFFD, unrestored ``<ID1>``), not empty (``empty``), and a length that fits the
source (``length``)."""

from bisect import bisect_right
from collections import Counter

from ..text.indic_processing import EMAIL_PATTERN, OTHER_PATTERN
from ..text.patterns import compile_linear, url_spans
from .findings import Finding
from .tokens import INDIC_LETTERS, sentence_spans, tokens

# The service's own patterns for what it protects behind placeholders (service.text.indic_processing), narrowed to
# what is unmistakably a URL or a handle: its URL pattern also matches "12.5" and "said.The", and its handle pattern
# "a|b".
_EMAIL = compile_linear(EMAIL_PATTERN)
_HANDLE = compile_linear(OTHER_PATTERN)
_TOP_LEVEL_DOMAINS = frozenset(
    "com org net in gov edu co io info news tv me ai app uk us int mil biz online live site org.in nic ac res".split()
)
# <ID3>, [ID3], < id 3 >: square brackets written as \x5b and \x5d (compile_linear reads classes without escapes)
_UNRESTORED = compile_linear(r"(?i)(?:<|\x5b)\s?id\s?\d+\s?(?:>|\x5d)")
_ARTIFACT = compile_linear(r"(?i)<unk>|</?s>|<pad>|\x{FFFD}|\x{2581}")
_SOURCE_SCRIPT = compile_linear(rf"[{INDIC_LETTERS}](?:[{INDIC_LETTERS}\s।॥,.;:'\"-]*[{INDIC_LETTERS}])?")

# A loop: a word or a short phrase three times running, a phrase of four to twelve words twice running. News text
# says a word twice (bye bye, धीरे-धीरे), never three times, and no phrase twice in a row.
_LONGEST_LOOP = 12
_LONG_PHRASE = 4
# Translations of Hindi news run from about 0.7 to 1.4 times the source's length in characters; far outside that,
# a part was dropped or the output ran away. Short texts vary too much to say.
_LENGTH_RATIO = (0.35, 3.0)
_SHORTEST_FOR_LENGTH = 60


def _is_url(text: str) -> bool:
    if not text.isascii():
        return False
    if text.lower().startswith(("http://", "https://", "ftp://", "www.")):
        return True
    host = text.split("/", 1)[0].lower()
    return host.count(".") >= 1 and host.rsplit(".", 1)[1] in _TOP_LEVEL_DOMAINS and len(host.split(".")[0]) >= 2


def entities(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of the e-mails, URLs, handles and hashtags of ``text``, in order, none overlapping (e-mails first: an
    e-mail holds a domain, as the service's own protection does)."""
    found: list[tuple[int, int]] = []
    taken = bytearray(len(text) + 1)
    candidates = [m.span() for m in _EMAIL.finditer(text)]
    candidates += [span for span in url_spans(text) if _is_url(text[span[0] : span[1]])]
    candidates += [m.span() for m in _HANDLE.finditer(text) if m.group()[:1] in "@#"]
    for start, end in candidates:
        if not taken[start] and not taken[end - 1]:
            found.append((start, end))
            taken[start:end] = b"\x01" * (end - start)
    return tuple(sorted(found))


def masked(text: str) -> str:
    """``text`` with its entities and unrestored placeholders blanked out (same length: spans do not move), so their
    digits are no figures and their letters no words."""
    pieces, last = [], 0
    spans = sorted([*entities(text), *(m.span() for m in _UNRESTORED.finditer(text))])
    for start, end in spans:
        if start < last:
            continue
        pieces += [text[last:start], " " * (end - start)]
        last = end
    return "".join(pieces) + text[last:]


def _entity_key(text: str) -> str:
    return text.rstrip(".").casefold()


def check_placeholders(source: str, output: str, where: str) -> list[Finding]:
    """Every URL, e-mail, handle and hashtag of the source is in the output as it was; an output's entity the source
    lacks is where a wrong one was written. A hashtag or handle in Hindi letters (#वंदे) may be rendered in English:
    it is not required, and it accounts for one entity of the output the source lacks."""
    findings = []
    source_entities = {_entity_key(source[a:b]): source[a:b] for a, b in entities(source)}
    output_spans = entities(output)
    output_keys = {_entity_key(output[a:b]) for a, b in output_spans}
    missing = [text for key, text in source_entities.items() if key not in output_keys and text.isascii()]
    extra = [(a, b) for a, b in output_spans if _entity_key(output[a:b]) not in source_entities]
    extra = extra[sum(not text.isascii() for text in source_entities.values()) :]
    for i, (a, b) in enumerate(extra):
        instead = f"; the source has '{missing[i]}'" if i < len(missing) else ""
        detail = f"'{output[a:b]}' is not in the source{instead}"
        findings.append(Finding("placeholder", "error", where, (a, b), output[a:b], detail))
    for text in missing[len(extra) :]:
        detail = f"the source's '{text}' is missing"
        findings.append(Finding("placeholder", "error", where, (0, len(output)), text, detail))
    for m in _UNRESTORED.finditer(output):
        detail = "a placeholder the model left in place of a protected URL, number or handle"
        findings.append(Finding("placeholder", "error", where, m.span(), m.group(), detail))
    return findings


def check_untranslated(masked_output: str, where: str) -> list[Finding]:
    """Text in a source script (Devanagari and the other scripts of India) left in an English output (``masked``:
    a hashtag in Hindi letters is kept on purpose)."""
    return [Finding("untranslated", "error", where, m.span(), m.group(), "source-script text left in the English")
            for m in _SOURCE_SCRIPT.finditer(masked_output)]  # fmt: skip


def check_artifacts(output: str, where: str) -> list[Finding]:
    names = {"\ufffd": "a replacement character (U+FFFD): text lost in decoding", "\u2581": "a sentencepiece marker"}
    return [Finding("artifact", "error", where, m.span(), m.group(), names.get(m.group(), "a model token in the text"))
            for m in _ARTIFACT.finditer(output)]  # fmt: skip


def loops(text: str) -> list[tuple[int, int, int]]:
    """Degenerate loops in ``text``: (start, end, repeats) of each stretch where a phrase of up to twelve words
    repeats back to back (see ``_LONG_PHRASE``). Linear: one pass per phrase length."""
    words = tokens(text)
    keys = [w.key for w in words]
    found = []
    for n in range(1, _LONGEST_LOOP + 1):
        needed = 2 if n >= _LONG_PHRASE else 3
        run = 0
        for i in range(n, len(keys) + 1):
            if i < len(keys) and keys[i] == keys[i - n]:
                run += 1
                continue
            if run + n >= needed * n:  # words[i - run - n : i] has period n
                first = i - run - n
                found.append((words[first].start, words[i - 1].end, (run + n) // n))
            run = 0
    found.sort(key=lambda loop: (loop[0], -loop[1]))
    merged = []
    for loop in found:  # the shortest period of a stretch was found first; drop the same stretch seen again
        if not merged or loop[0] >= merged[-1][1]:
            merged.append(loop)
    return merged


def _said_twice(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text`` that it says again later (each reported once, where it is said first)."""
    spans = sentence_spans(text)
    normalized = [" ".join(text[a:b].split()).casefold() for a, b in spans]
    counts = Counter(normalized)
    reported, twice = set(), []
    for span, sentence in zip(spans, normalized):
        if counts[sentence] > 1 and len(sentence.split()) >= 4 and sentence not in reported:
            reported.add(sentence)
            twice.append(span)
    return twice


def check_repetition(output: str, where: str, source: str | None = None) -> list[Finding]:
    """Loops, and sentences said twice elsewhere than in a loop, in an output whose source has neither itself (a
    chant, a slogan, a sentence the article repeats). The source is read only when the output has something."""
    found_loops = loops(output)
    if found_loops and source is not None and loops(source):
        found_loops = []
    findings = [Finding("repetition", "error", where, (a, b), output[a:b], f"the same words {count} times running")
                for a, b, count in found_loops]  # fmt: skip
    twice = _said_twice(output)
    if twice and source is not None and _said_twice(source):
        twice = []
    loop_starts = [a for a, _, _ in found_loops]
    for a, b in twice:
        k = bisect_right(loop_starts, a) - 1
        if k < 0 or found_loops[k][1] <= a:  # not inside a loop already reported
            findings.append(Finding("repetition", "warning", where, (a, b), output[a:b], "a sentence said twice"))
    return findings


def check_empty(source: str, output: str, where: str) -> list[Finding]:
    if source.strip() and not output.strip():
        return [Finding("empty", "error", where, (0, len(output)), output, "empty output for a non-empty source")]
    return []


def check_length(source: str, output: str, where: str) -> list[Finding]:
    """A translation far shorter or longer than its source: a dropped part, or a runaway output."""
    if len(source.strip()) < _SHORTEST_FOR_LENGTH or not output.strip():
        return []
    ratio = len(output.strip()) / len(source.strip())
    low, high = _LENGTH_RATIO
    if low <= ratio <= high:
        return []
    what = "shorter" if ratio < low else "longer"
    detail = f"{ratio:.2f} times the source's length: far {what} than a translation runs"
    return [Finding("length", "warning", where, (0, len(output)), "", detail)]
