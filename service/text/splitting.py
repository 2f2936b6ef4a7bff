"""Splitting an article into paragraphs and sentences, and joining translated sentences back in its layout.

Paragraphs are lines (blank lines between them are kept as layout). A sentence ends at one of its language's
sentence-final marks, or at ?, ! or a full stop, followed by whitespace, with any closing quotes or brackets kept on
the sentence: the danda family (।, ॥) in the North Indian scripts, ۔ and ؟ in Urdu, Kashmiri and Sindhi, ᱾ and ᱿ in
Santali's Ol Chiki, ꯫ (and ꫰, ꫱) in Meitei Mayek; Latin full stops end sentences in every language (Tamil, Telugu,
Kannada, Malayalam, Gujarati and Marathi news use nothing else). A full stop after a known abbreviation or initials
(डॉ., श्री., U.S., ডা.; in the Dravidian scripts any one-letter word, as in மு.க. ஸ்டாலின் or కె. చంద్రశేఖర్) does not
end a sentence, and decimals (3.5) never do because a sentence boundary needs whitespace after the mark. Sentences
the model could not take whole (over its source-token limit) are split further at clause punctuation, then between
words — never cut.
"""

from collections.abc import Callable
from dataclasses import dataclass

import regex

# Sentence-final marks besides ".", "?" and "!", by script (ISO 15924: the FLORES code's suffix).
_FINAL_MARKS = {
    "Deva": "।॥", "Beng": "।॥", "Guru": "।॥", "Orya": "।॥", "Gujr": "।॥",
    "Arab": "۔؟", "Olck": "᱾᱿", "Mtei": "꯫꫰꫱",
}  # fmt: skip
# Scripts in which a one-letter word before a full stop is an initial: their sentences end in longer words.
_INITIALS_SCRIPTS = frozenset(("Taml", "Telu", "Knda", "Mlym"))
_CLOSERS = "\"'”’»)]"


def _sentence_end(marks: str) -> regex.Pattern:
    # Matched from the start of a run of marks only, without backtracking: a start inside the run, or a shorter run,
    # could not be followed by whitespace either, and retrying them made a long run of dandas quadratic.
    marks, closers = regex.escape("?!." + marks), regex.escape(_CLOSERS)
    return regex.compile(rf"(?<![{marks}])[{marks}]++[{closers}]*+(?=\s)")


_SENTENCE_END = {script: _sentence_end(marks) for script, marks in _FINAL_MARKS.items()}
_LATIN_SENTENCE_END = _sentence_end("")  # scripts with no marks of their own
# Words that end in a full stop without ending a sentence. Compared without the stop, case-insensitively.
_ABBREVIATIONS = frozenset(
    "डॉ श्री श्रीमती सुश्री प्रो पं मो कु स्व सं नं क्र रु जन फर अग सित अक्टू नव दिस "
    # Devanagari letter names used as initials (ए. के. शर्मा); के, की, जी and ई are left out: they end sentences.
    "ए बी सी डी एफ एच जे एल एम एन ओ पी क्यू आर एस टी यू वी डब्ल्यू एक्स वाई जेड "
    # Marathi and Konkani titles (सौ. = Mrs, प्रा. = Prof., कै. = the late, चि. = young Mr)
    "सौ प्रा कै चि "
    # Bengali and Assamese (ডা. = Dr, মো. = Md, ড. = Dr)
    "ডা ড মো মি শ্রী "
    # English letter names as initials in the scripts whose news ends sentences with full stops (એસ. એમ. ...,
    # ಎಸ್. ಎಂ. ಕೃಷ್ಣ); Gujarati's એ and કે are left out: they are words too.
    "બી સી ડી ઈ એફ જી એચ આઈ જે એલ એમ એન ઓ પી ક્યૂ આર એસ ટી યુ વી ડબલ્યુ એક્સ વાય ઝેડ "
    "ஏ பி சி டி இ எஃப் ஜி எச் ஐ ஜே கே எல் எம் என் ஓ க்யூ ஆர் எஸ் டபிள்யூ எக்ஸ் ஒய் இசட் "
    "ఎ బి సి డి ఇ ఎఫ్ జి హెచ్ ఐ జె కె ఎల్ ఎం ఎన్ ఒ పి క్యూ ఆర్ ఎస్ టి యు వి డబ్ల్యు ఎక్స్ వై జెడ్ "
    "ಎ ಬಿ ಸಿ ಡಿ ಇ ಎಫ್ ಜಿ ಎಚ್ ಐ ಜೆ ಕೆ ಎಲ್ ಎಂ ಎನ್ ಒ ಪಿ ಕ್ಯೂ ಆರ್ ಎಸ್ ಟಿ ಯು ವಿ ಡಬ್ಲ್ಯು ಎಕ್ಸ್ ವೈ ಜೆಡ್ "
    "എ ബി സി ഡി ഇ എഫ് ജി എച്ച് ഐ ജെ കെ എൽ എം എൻ ഒ പി ക്യു ആർ എസ് ടി യു വി ഡബ്ല്യു എക്സ് വൈ ഇസഡ് "
    "mr mrs ms dr prof st jr sr vs etc inc ltd co no nos rs approx govt dept".split()
)
_CLAUSE_END = regex.compile(r"(?<=[,;:،؛]|\s[-–—])\s+")
_PARAGRAPH_BREAK = regex.compile(r"[ \t\f\v]*\n\s*")


def _script(lang: str) -> str:
    script = lang.rpartition("_")[2]
    if not (len(script) == 4 and script.isascii() and script.isalpha() and script.istitle()):
        raise ValueError(f"not a FLORES-200 language code: {lang!r}")
    return script


def _is_abbreviation(text: str, start: int, stop: int, initials: bool) -> bool:
    """Whether the word before the full stop at ``stop`` (in whitespace-normalized ``text``, the sentence having
    begun at ``start``) is an abbreviation. Looks at that word only, so that a paragraph of initials stays linear."""
    word = text[max(text.rfind(" ", start, stop) + 1, start) : stop]
    if not word:
        return False
    word = word.lstrip("(\"'“‘").lower()
    if word in _ABBREVIATIONS:
        return True
    # A single Latin initial ("A.") or dotted initials ("u.s", "i.e", "बी.ए"); a lone Devanagari syllable is not
    # enough, since है, ने, में are one syllable too.
    parts = word.split(".")
    if len(parts) == 1:
        if initials:
            return len(regex.findall(r"\X", word)) == 1
        return len(word) == 1 and word.isascii() and word.isalpha()
    return all(0 < len(regex.findall(r"\X", part)) <= 2 for part in parts)


def split_sentences(paragraph: str, lang: str = "hin_Deva") -> list[str]:
    """Sentences of one paragraph in ``lang`` (a FLORES-200 code), whitespace-normalized, in order; joining them with
    spaces gives the paragraph."""
    script = _script(lang)
    initials = script in _INITIALS_SCRIPTS
    text = " ".join(paragraph.split())
    sentences, start = [], 0
    for match in _SENTENCE_END.get(script, _LATIN_SENTENCE_END).finditer(text):
        marks = match.group(0).rstrip(_CLOSERS)
        if marks == "." and _is_abbreviation(text, start, match.start(), initials):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


@dataclass
class ArticleLayout:
    """An article as paragraphs of sentences, with the separators that stood between the paragraphs."""

    paragraphs: list[list[str]]
    separators: list[str]

    @property
    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in paragraph]

    def join(self, translated: list[str]) -> tuple[str, list[str]]:
        """Put one translation per sentence (in ``sentences`` order) back into the article's paragraphs."""
        if len(translated) != len(self.sentences):
            raise ValueError(f"expected {len(self.sentences)} translated sentences, got {len(translated)}")
        it = iter(translated)
        paragraphs = [" ".join(next(it) for _ in paragraph) for paragraph in self.paragraphs]
        text = paragraphs[0] if paragraphs else ""
        for separator, paragraph in zip(self.separators, paragraphs[1:]):
            text += separator + paragraph
        return text, paragraphs


def split_article(text: str, lang: str = "hin_Deva") -> ArticleLayout:
    """Paragraphs (non-blank lines) and their sentences in ``lang``; blank-line separators are kept as "\\n\\n",
    others "\\n"."""
    pieces = _PARAGRAPH_BREAK.split(text.strip())
    separators = ["\n\n" if sep.count("\n") > 1 else "\n" for sep in _PARAGRAPH_BREAK.findall(text.strip())]
    paragraphs = [split_sentences(piece, lang) for piece in pieces]
    keep = [i for i, p in enumerate(paragraphs) if p]
    return ArticleLayout([paragraphs[i] for i in keep], [separators[i - 1] for i in keep[1:]])


def _longest_fitting(parts: list[str], first: int, joiner: str, fits: Callable[[str], bool], guess: int) -> int:
    """How many parts from ``first`` on, joined, still fit (at least one: a part that does not fit alone stays
    alone). Searches outward from ``guess`` (the previous chunk's count) in doubling steps, then bisects: a few calls
    of ``fits`` on texts about one chunk long, where adding one part at a time made a call per part."""
    remaining = len(parts) - first

    def ok(count: int) -> bool:
        return count <= 1 or fits(joiner.join(parts[first : first + count]))

    probe = min(max(guess, 1), remaining)
    step = max(1, probe // 64)
    if ok(probe):
        good, bad = probe, remaining + 1
        while good < remaining:
            probe = min(good + step, remaining)
            if not ok(probe):
                bad = probe
                break
            good, step = probe, step * 2
    else:
        good, bad = 1, probe
        while bad - step > 1:
            probe = bad - step
            if ok(probe):
                good = probe
                break
            bad, step = probe, step * 2
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if ok(middle) else (good, middle)
    return good


def _pack(parts: list[str], fits: Callable[[str], bool], joiner: str = " ") -> list[str]:
    """Consecutive parts joined while the joined text still fits (greedily, from the first part on)."""
    chunks, first, count = [], 0, 1
    while first < len(parts):
        count = _longest_fitting(parts, first, joiner, fits, guess=count)
        chunks.append(joiner.join(parts[first : first + count]))
        first += count
    return chunks


def split_to_fit(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """Split a sentence into consecutive pieces that each ``fits`` (e.g. the model's source-token limit): at clause
    punctuation first, then between words, and only for a single over-long word between characters. Joining the
    pieces with spaces gives the sentence back."""
    if fits(sentence):
        return [sentence]
    pieces: list[str] = []
    for clause in _pack(_CLAUSE_END.split(sentence), fits):
        if fits(clause):
            pieces.append(clause)
            continue
        for words in _pack(clause.split(" "), fits):
            if fits(words):
                pieces.append(words)
            else:  # one "word" longer than the limit: cut between grapheme clusters
                pieces.extend(_pack_graphemes(words, fits))
    return pieces


def _pack_graphemes(word: str, fits: Callable[[str], bool]) -> list[str]:
    return _pack(regex.findall(r"\X", word), fits, joiner="")
