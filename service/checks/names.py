"""The ``name`` check: a proper name in an English output that the source does not have.

A name is a capitalized word that is no ordinary word: not one of the lexicon's titles, institutions and function
words, not a month, weekday or number, not shaped like an English common noun (-tion, -ment, …), not a common English
word (pyspellchecker's word counts), not a word the text writes in lower case elsewhere (Farmers … farmers). A word
with two capitals or more is an acronym (BJP, LoC): only the lexicon's acronyms are ordinary.

Names are compared by sound, not spelling: the source is romanized with indic-transliteration (ITRANS), and both
sides are reduced to a consonant skeleton (vowels dropped, aspiration and the letters English and Hindi confuse
merged: श/ष/स = s, व = v = w, ज़ = z = j, फ़ = f = ph), so Narendra = नरेंद्र, Lucknow = लखनऊ, Vijayvargiya =
विजयवर्गीय; one letter more or less is tolerated in longer names (Jaishankar = जयशंकर). A name may be one word on
one side and two on the other (Lok Sabha = लोकसभा). An acronym passes as a word (ISRO = इसरो, BJP = भाजपा), spelled
out in Hindi letters (BJP = बीजेपी) or as the initials of the source's words (UP = उत्तर प्रदेश). Demonyms pass by
their country (Pakistani, Russians), exonyms by a table (India = भारत).
"""

from copy import copy
from functools import lru_cache

import regex
from indic_transliteration import sanscript
from indicnlp.transliterate.acronym_transliterator import LatinToIndicAcronymTransliterator
from spellchecker import SpellChecker

from .figures import MONTHS, NUMBER_WORDS, SCALES, WEEKDAYS
from .findings import Finding
from .lexicon import ACRONYMS, EXONYMS, FUNCTION_WORDS, HINDI_COMMON, INSTITUTIONS, TITLES
from .tokens import fold, tokens

ORDINARY = frozenset(FUNCTION_WORDS + TITLES + INSTITUTIONS + ACRONYMS) | {w.lower() for w in (*MONTHS, *WEEKDAYS)}
ORDINARY |= {w for w in (*NUMBER_WORDS, *SCALES) if w.isascii()}
# Endings of English common nouns and adjectives that Indian names do not have.
_COMMON_ENDINGS = ("tion", "tions", "sion", "sions", "ment", "ments", "ness", "ity", "ities", "ship", "ism", "isms",
                   "ist", "ists", "ance", "ances", "ence", "ences", "ing", "ings", "ers", "ors", "ees", "ents", "ants",
                   "men", "ical", "ology", "ics", "ies", "ful", "less", "ous", "ive", "ives")  # fmt: skip
# An English word this frequent (occurrences in pyspellchecker's English corpus) is no name: Tribunal 2,080, Ministry
# 3,005, Embassy 9,019, Tiger 14,003; Indian names are rarer (Ali 1,518; Raj 759; Delhi 673; Singh 397; Modi none),
# a few are not (Ram 5,564, China 3,019, John 6,920): those pass unchecked.
_COMMON_WORD = 2000
# A capitalized word that opens a sentence is an ordinary noun more often than a name (Cyclone-hit districts…,
# Astronomer Dr …): there a word this common in English is taken as ordinary (London is too: a name invented at the
# head of a sentence may pass).
_COMMON_AT_SENTENCE_START = 500
_SENTENCE_ENDS = ".!?\n\"'“‘:;(–—"
_EXONYMS = {word: {fold(h) for h in hindi.split()} for word, hindi in EXONYMS.items() if " " not in word}
_HINDI_COMMON = frozenset(fold(w) for w in HINDI_COMMON)
_VOWELS = frozenset("aeiouy")
_SHORT = 2  # skeletons this short (Modi, Shah, Sen) match common Hindi words too: their first vowels must agree
# The Hindi vowels (as romanized) an English spelling's vowel letter may stand for: Delhi = दिल्ली, Bengal = बंगाल,
# Punjab = पंजाब, Jaitley = जेटली, Paul = पॉल.
_ENGLISH_VOWELS = {"a": "aeo", "e": "eia", "i": "ie", "o": "ou", "u": "uao", "y": "iae"}
_VOWEL_V = regex.compile(r"(?<=[aeiou])v")  # व after a vowel, which English spellings often leave out
_FUZZY_FROM = 4  # skeletons this long tolerate one letter more, less or other
_FUZZY_UNTIL = 16  # longer ones (no name) are compared exactly: their variants would cost time
_LONGEST_ACRONYM_RUN = 5
_DEMONYM_ENDINGS = ("ians", "ian", "ans", "an", "ese", "is", "i", "ish", "s")
_DEVANAGARI_FIXES = str.maketrans({"\u0949": "\u094b", "\u0911": "\u0913", "\u0945": "\u0947", "\u090d": "\u090f"})


# --- skeletons --------------------------------------------------------------------------------------------------------
def skeleton(latin: str, vowel_w: bool = True) -> str:
    """The consonants of a romanized word, as Hindi and English spellings of one name share them. ``vowel_w``: a w
    after a vowel and before a consonant is the vowel's (Lucknow = लखनऊ), not व (Howrah = हावड़ा)."""
    s = "".join(c for c in latin.lower() if "a" <= c <= "z")
    s = s.replace("x", "ks").replace("q", "k").replace("z", "j").replace("f", "p")
    s = s.replace("ch", "\0").replace("ce", "se").replace("ci", "si").replace("cy", "sy").replace("c", "k")
    s = s.replace("\0", "c")
    out: list[str] = []
    for i, c in enumerate(s):
        previous, following = s[i - 1 : i], s[i + 1 : i + 2]
        if c in _VOWELS and not (c == "y" and i == 0):
            if i == 0:
                out.append("a")  # an initial vowel counts (Indore, Uttar), not which one
            continue  # y too: Hindi romanizes य between vowels (सेल्सियस), English does not (Celsius)
        if c == "h" and i and (previous not in _VOWELS or not following):
            continue  # aspiration (bh, th, sh) and a final h (Shah = शाह, Abdullah = अब्दुल्ला)
        if c == "w" and vowel_w and previous in _VOWELS and following not in _VOWELS:
            continue  # a vowel's w (Lucknow = लखनऊ, Bhowmik = भौमिक), not व (WhatsApp = व्हाट्सएप)
        c = "v" if c == "w" else c
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def _plain_itrans(itrans: str) -> str:
    """ITRANS → a plain lower-case spelling: anusvara as m before a labial and ng before h (सिंह = Singh), else n;
    ज्ञ as gy (ज्ञान = Gyan); the inherent final a dropped, as Hindi speaks it (भारत = Bharat)."""
    out = []
    for i, c in enumerate(itrans):
        if c == "M":
            following = itrans[i + 1 : i + 2]
            out.append("m" if following in ("p", "b", "m") else "ng" if following == "h" else "n")
        else:
            out.append(c)
    s = "".join(out).replace("j~n", "gy").replace("~n", "n").replace("~N", "n").replace(".N", "n")
    if len(s) >= 3 and s[-1] == "a" and s[-2] not in "aeiouAIU":
        s = s[:-1]
    return s.lower()


def _romanized(words: list[str]) -> list[str]:
    """Devanagari words → plain romanizations, in one call to the transliterator (one call per word costs more than
    the transliteration). ड़ and ढ़ are r (सड़क = sadak, but गढ़ = garh), ऑ is o."""
    prepared = [fold(w.replace("ड़", "र").replace("ढ़", "र").translate(_DEVANAGARI_FIXES)) for w in words]
    romanized = sanscript.transliterate("\n".join(prepared), sanscript.DEVANAGARI, sanscript.ITRANS).split("\n")
    return [_plain_itrans(r) for r in romanized]


def _first_vowel(plain: str) -> str:
    return next((c for c in plain if c in _VOWELS), "")


def _initials(letters: list[str]) -> set[str]:
    """The initials of every run of two to five words ("" for a word that gives none: the run stops there)."""
    found = set()
    for i in range(len(letters)):
        run = ""
        for letter in letters[i : i + _LONGEST_ACRONYM_RUN]:
            if not letter:
                break
            run += letter
            if len(run) >= 2:
                found.add(run)
    return found


def _deletions(s: str) -> list[str]:
    return [s[:i] + s[i + 1 :] for i in range(len(s))]


# --- the source's names -----------------------------------------------------------------------------------------------
class SourceNames:
    """What a source (and, for a summary, the article's English translation) lets an English output name."""

    def __init__(self, source: str):
        words = [t.text for t in tokens(source) if not t.is_number]
        latin = [w for w in words if w.isascii()]
        hindi = [w for w in words if not w.isascii()]
        self.hindi_words = {fold(w) for w in hindi}
        self.english_words = {w.lower() for w in latin}
        unique = list(dict.fromkeys(hindi))
        romanized = dict(zip(unique, _romanized(unique)))
        plain = [romanized.get(w, w.lower()) for w in words]
        kept = [fold(w) not in _HINDI_COMMON for w in words]
        self.skeletons: set[str] = set()
        self.shorter: set[str] = set()  # the skeletons with one letter deleted
        self.substituted: set[tuple[str, int]] = set()  # the same, with the place of the deleted letter
        self.short: set[tuple[str, str]] = set()  # (skeleton, first vowel) of words of at most two consonants
        spellings = {w for w, keep in zip(plain, kept) if keep}
        spellings |= {a + b for a, b, keep_a, keep_b in zip(plain, plain[1:], kept, kept[1:]) if keep_a and keep_b}
        spellings |= {_VOWEL_V.sub("", w) for w in spellings if "v" in w}  # राव = Rao, गोवा = Goa, दीव = Diu
        for spelling in spellings:  # a word, or two run together: लोक सभा = Loksabha
            consonants = skeleton(spelling)
            self._add(consonants)
            if len(consonants) <= _SHORT:
                self.short.add((consonants, _first_vowel(spelling)))
        self.initials = _initials([word[:1] for word in plain])  # UP = उत्तर प्रदेश

    def including(self, english: str) -> "SourceNames":
        """These names and those of the article's English translation (a summary may name what it names; KKR may
        stand for its Kolkata Knight Riders)."""
        both = copy(self)
        toks = [t for t in tokens(english) if not t.is_number]
        both.english_words = self.english_words | {t.text.lower() for t in toks}
        capitalized = [t.text[:1].lower() if t.text[:1].isupper() else "" for t in toks]
        both.initials = self.initials | _initials(capitalized)
        return both

    def _add(self, s: str):
        if not s or s in self.skeletons:
            return
        self.skeletons.add(s)
        if _FUZZY_FROM - 1 <= len(s) <= _FUZZY_UNTIL:
            for i, shorter in enumerate(_deletions(s)):
                self.shorter.add(shorter)
                self.substituted.add((shorter, i))

    def sounds_like(self, latin: str) -> bool:
        """Whether the source has a word of this skeleton, or of one at edit distance one for a longer skeleton
        (a letter deleted, inserted or replaced: deletion neighbourhoods, so no word is compared with every other)."""
        return any(self._near(s, latin) for s in {skeleton(latin), skeleton(latin, vowel_w=False)})

    def _near(self, s: str, latin: str) -> bool:
        if len(s) <= _SHORT:  # Chennai (cn) is not चुना (cn, "chosen"): the vowel must agree too
            vowel = _first_vowel(latin.lower())
            return any((s, v) in self.short for v in _ENGLISH_VOWELS.get(vowel, (vowel,)))
        if s in self.skeletons:
            return True
        if not _FUZZY_FROM <= len(s) <= _FUZZY_UNTIL:
            return False
        if s in self.shorter:  # the source's word has one letter more
            return True
        return any(d in self.skeletons or (d, i) in self.substituted for i, d in enumerate(_deletions(s)))

    def has_acronym(self, word: str) -> bool:
        lower = word.lower()
        if lower in self.initials or self.sounds_like(lower):
            return True
        spelled = LatinToIndicAcronymTransliterator.transliterate(lower, "hi")  # BJP → बीजेपी
        return fold(spelled) in self.hindi_words or skeleton(_romanized([spelled])[0]) in self.skeletons

    def has_exonym(self, word: str) -> bool:
        return bool(_EXONYMS.get(word.lower(), set()) & self.hindi_words)

    def has_demonym(self, word: str) -> bool:
        lower = word.lower()
        return any(lower.endswith(e) and len(lower) - len(e) >= 3 and self.sounds_like(lower[: -len(e)])
                   for e in _DEMONYM_ENDINGS)  # fmt: skip

    def supports(self, words: list[str]) -> bool:
        """Whether the source has the name written as these words (one, or two run together)."""
        joined = "".join(words)
        if joined.lower() in self.english_words:
            return True
        if len(words) == 1:
            word = words[0]
            if is_acronym(word) and len(word) <= 6 and self.has_acronym(word):
                return True
            if self.has_exonym(word) or self.has_demonym(word):
                return True
        return self.sounds_like(joined)


# --- candidates -------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _english_counts():
    """How often each English word occurs in pyspellchecker's English corpus (loaded once: about a second)."""
    return SpellChecker(language="en", distance=1).word_frequency


def is_acronym(word: str) -> bool:
    """BJP, ISRO, and the mixed ones: LoC, MoU, CrPC."""
    return sum(c.isupper() for c in word) >= 2


def _frequency(lower: str) -> int:
    """Occurrences of the word and, for a plural, of its singular (Slogans: slogans 977 + slogan 2,187)."""
    counts = _english_counts()
    forms = {lower}
    if lower.endswith("s"):
        forms |= {lower[:-1], lower[:-2] if lower.endswith("es") else ""}
        forms |= {lower[:-3] + "y"} if lower.endswith("ies") else set()
    return sum(counts[form] for form in forms if form)


def _is_ordinary(word: str, lower_words: set[str], opens_sentence: bool = False) -> bool:
    lower = word.lower()
    if lower in ORDINARY or (lower.endswith("s") and lower[:-1] in ORDINARY):
        return True
    if is_acronym(word):
        return False  # only the lexicon's acronyms are ordinary
    common = _COMMON_AT_SENTENCE_START if opens_sentence else _COMMON_WORD
    if lower.endswith(_COMMON_ENDINGS) or _frequency(lower) >= common:
        return True
    # a word the text also writes in lower case (Farmers … farmers; a title-case headline)
    return lower in lower_words or lower.rstrip("s") in lower_words or lower + "s" in lower_words


def lower_case_words(text: str) -> set[str]:
    return {t.text for t in tokens(text) if t.text.islower()}


def candidates(text: str, lower_words: set[str]) -> list[list[tuple[int, int, str, bool]]]:
    """Runs of capitalized words side by side in an English text (Sonia Gandhi, Lok Sabha, New York): [[(start, end,
    word, is_name), …], …]. An ordinary word of a run is no name, but a name may be written together with it in the
    source (न्यूयॉर्क, श्रीकृष्ण). ``lower_words``: the words the whole output writes in lower case."""
    runs: list[list[tuple[int, int, str, bool]]] = []
    previous_end, joined = -1, False
    last_visible = ""  # the last character before this token that is not a space (read once: linear)
    for tok in tokens(text):
        word = tok.text
        gap = text[max(previous_end, 0) : tok.start].rstrip()
        last_visible = gap[-1] if gap else last_visible
        capitalized = not tok.is_number and word.isascii() and len(word) >= 2 and word[0].isupper()
        if capitalized:
            opens_sentence = not last_visible or last_visible in _SENTENCE_ENDS
            entry = (tok.start, tok.end, word, not _is_ordinary(word, lower_words, opens_sentence))
            if joined and text[previous_end : tok.start] in (" ", "-"):
                runs[-1].append(entry)
            else:
                runs.append([entry])
        joined = capitalized
        previous_end, last_visible = tok.end, word[-1]
    return [run for run in runs if any(is_name for *_, is_name in run)]


def check_names(names: SourceNames, output: str, where: str, severity: str, against: str,
                lower_words: set[str] | None = None) -> list[Finding]:
    """Each name word of ``output`` the source does not support, alone or run together with a neighbour; unsupported
    neighbours are reported as one finding. ``lower_words``: those of the whole output, when ``output`` is a part."""
    findings = []
    for run in candidates(output, lower_case_words(output) if lower_words is None else lower_words):
        words = [w for _, _, w, _ in run]
        unsupported = []
        for i, (start, end, word, is_name) in enumerate(run):
            if not is_name or names.supports([word]):
                continue
            pairs = ([words[i - 1], word] if i else None, [word, words[i + 1]] if i + 1 < len(words) else None)
            if not any(pair and names.supports(pair) for pair in pairs):
                unsupported.append((start, end))
        merged: list[list[int]] = []
        for start, end in unsupported:
            if merged and output[merged[-1][1] : start] in (" ", "-"):
                merged[-1][1] = end
            else:
                merged.append([start, end])
        for start, end in merged:
            text = output[start:end]
            detail = f"'{text}' is not in {against}"
            findings.append(Finding("name", severity, where, (start, end), text, detail))
    return findings
