"""The languages the service serves, the codes callers may name them by, and which one a text is in.

Detection reads the script first: letters and vowel signs counted per Unicode script in one pass. Where served
languages share a script it looks closer, in this order:

1. Distinctive letters. Assamese writes ৰ and ৱ where Bengali writes র; Sindhi has its implosives and ڪ (ॻ ॼ ॾ ॿ in
   Devanagari); Kashmiri its vowel signs (ٲ ٕ ٚ ۄ ؠ …, in Devanagari ॖ ॗ ऺ ॏ …); Urdu has ٹ ڈ ڑ ں ے ہ, which Arabic
   and Persian text lacks.
2. py3langid, a language-identification library whose model ships inside the package (nothing is downloaded), asked
   only among the script's served languages it knows: Hindi, Marathi, Nepali, Sanskrit and Konkani in Devanagari,
   Bengali and Assamese in Bengali script.
3. Function words and endings, for the languages no offline library covers (Maithili, Bodo, Dogri, Kashmiri and
   Sindhi in Devanagari, Manipuri in Bengali script) and for Konkani, which the library often takes for Marathi. A
   language's function words overrule the library's pick when they are at least ``MIN_MARKER_SHARE`` of the text's
   words, at least ``MIN_MARKER_WORDS`` of them, and more than the pick's own. A tie-break, not a model: short texts
   in these languages (a sentence or two) may be taken for their neighbours. The library's own languages' words
   overrule its pick only when it is unsure (below ``UNSURE_PICK``: a headline of a few words).

Only the first ``sample_chars`` characters are read (``LANGUAGE_SAMPLE_CHARS``): a news article does not change
language half-way, and the cost of detection stays bounded whatever the article's length. A language the caller names
instead is checked only for its script (``require_script``): the editor's word overrules detection.
"""

import copy
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import regex

from ..errors import UnsupportedLanguage
from .checks import SCRIPTS


@dataclass(frozen=True)
class Language:
    code: str  # FLORES-200, as IndicTrans2 tags its sources
    name: str
    iso: str  # ISO 639-1 where the language has a code there, else ISO 639-3
    xlsum: bool  # summarized natively by the mT5 XL-Sum checkpoint

    @property
    def script(self) -> str:
        return self.code.split("_")[1]


# IndicTrans2's 22 source languages (25 language-script pairs); XL-Sum covers nine of them.
LANGUAGES = {
    language.code: language
    for language in (
        Language("asm_Beng", "Assamese", "as", False),
        Language("ben_Beng", "Bengali", "bn", True),
        Language("brx_Deva", "Bodo", "brx", False),
        Language("doi_Deva", "Dogri", "doi", False),
        Language("gom_Deva", "Konkani", "gom", False),
        Language("guj_Gujr", "Gujarati", "gu", True),
        Language("hin_Deva", "Hindi", "hi", True),
        Language("kan_Knda", "Kannada", "kn", False),
        Language("kas_Arab", "Kashmiri", "ks", False),
        Language("kas_Deva", "Kashmiri", "ks", False),
        Language("mai_Deva", "Maithili", "mai", False),
        Language("mal_Mlym", "Malayalam", "ml", False),
        Language("mar_Deva", "Marathi", "mr", True),
        Language("mni_Beng", "Manipuri", "mni", False),
        Language("mni_Mtei", "Manipuri", "mni", False),
        Language("npi_Deva", "Nepali", "ne", True),
        Language("ory_Orya", "Odia", "or", False),
        Language("pan_Guru", "Punjabi", "pa", True),
        Language("san_Deva", "Sanskrit", "sa", False),
        Language("sat_Olck", "Santali", "sat", False),
        Language("snd_Arab", "Sindhi", "sd", False),
        Language("snd_Deva", "Sindhi", "sd", False),
        Language("tam_Taml", "Tamil", "ta", True),
        Language("tel_Telu", "Telugu", "te", True),
        Language("urd_Arab", "Urdu", "ur", True),
    )
}
# The script a code without one means (ISO "ks", "sd", "mni"): the one their newspapers mostly print in.
_DEFAULT_CODES = {"kas": "kas_Arab", "snd": "snd_Arab", "mni": "mni_Beng"}
# Other names callers use: ISO 639-2/3 macrolanguage codes.
_ALIASES = {"nep": "npi", "ori": "ory", "kok": "gom"}


@dataclass(frozen=True)
class Detection:
    lang: str  # FLORES-200 code
    confidence: float  # 0–1: the share of the evidence for it, times its script's share of the Indic letters
    script: str  # ISO 15924


def _code_table() -> dict[str, str]:
    """Language subtag (ISO 639-1, 639-3 or FLORES prefix) → the served code it means without a script subtag."""
    table = {}
    for code, language in LANGUAGES.items():
        prefix = code.split("_")[0]
        default = _DEFAULT_CODES.get(prefix, code)
        table[prefix] = table[language.iso] = default
    return table | {alias: table[prefix] for alias, prefix in _ALIASES.items()}


_CODES = _code_table()
_SUBTAGS = regex.compile(r"[A-Za-z0-9]{1,8}(?:[-_][A-Za-z0-9]{1,8}){0,3}")


def normalize_language_code(code: str, max_chars: int) -> str:
    """A served language's FLORES-200 code from what a caller sent: a FLORES code (``ben_Beng``), ISO 639-1 (``bn``)
    or 639-3 (``ben``), optionally with a script or region subtag (``ks-Deva``, ``hi-IN``, ``bn_BD``), any case.
    Raises ``UnsupportedLanguage`` for a code that names no served language, or one over ``max_chars`` characters
    (``MAX_LANGUAGE_CODE_CHARS``)."""
    if isinstance(code, str) and len(code) > max_chars:
        raise UnsupportedLanguage(f"a language code of {len(code)} characters, over the limit of {max_chars} "
                                  f"(max_language_code_chars); give a FLORES-200 code or ISO 639-1 (e.g. ben_Beng or "
                                  f"bn)")  # fmt: skip
    if not isinstance(code, str) or not _SUBTAGS.fullmatch(code):
        raise _unknown_code(code)
    language, *rest = code.replace("-", "_").split("_")
    scripts = [part.title() for part in rest if len(part) == 4 and part.isalpha()]
    regions = [part for part in rest if (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit())]
    prefix = _CODES.get(language.lower(), "").split("_")[0]
    if not prefix or len(scripts) > 1 or len(scripts) + len(regions) < len(rest):
        raise _unknown_code(code)
    served = f"{prefix}_{scripts[0]}" if scripts else _CODES[language.lower()]
    if served not in LANGUAGES:
        raise _unknown_code(code)
    return served


def _unknown_code(code) -> UnsupportedLanguage:
    shown = repr(code) if isinstance(code, str) else type(code).__name__  # no longer than the limit
    return UnsupportedLanguage(
        f"unknown or unsupported language code {shown}; give a FLORES-200 code or ISO 639-1 (e.g. ben_Beng or bn). "
        f"Served: {', '.join(LANGUAGES)}"
    )


# --- detection -------------------------------------------------------------------------------------------------------
MIN_SCRIPT_SHARE = 0.2  # a served script must hold this share of the letters (code-mixed English is common)
MIN_LETTER_SHARE = 0.01  # distinctive letters decide from this share of their script's letters (not a quoted word)
MIN_MARKER_SHARE = 0.06  # function words decide once they are this share of the words (and beat the library's pick)
MIN_MARKER_WORDS = 2  # and at least this many: one chance ending in a short text is no evidence
UNSURE_PICK = 0.6  # below this probability the library's pick is a guess: function words of any language decide

_SCRIPT_OF = regex.compile("|".join(f"(?P<{code}>\\p{{Script={name}}})" for code, name in SCRIPTS.items()))
_WORD = regex.compile(r"[\p{L}\p{M}]+")
_SCRIPT_NAMES = SCRIPTS | {"Latn": "Latin"}

# Letters only one of the script's served languages writes. Bengali's র only rules out Assamese (Manipuri in
# Bengali script writes it too); Urdu's are Kashmiri's too, so Urdu is what remains when neither Kashmiri's nor
# Sindhi's letters are there.
_DISTINCTIVE_LETTERS = {
    "Deva": {"snd_Deva": "ॻॼॾॿ", "kas_Deva": "ॳॴॵॶॷऺऻॎॏॕॖॗ"},
    "Beng": {"asm_Beng": "ৰৱ", "ben_Beng": "র"},
    "Arab": {"snd_Arab": "ڪٻڄڃڇڏڌڍڊٺٽٿڀڦڳڱڻڙ۽", "kas_Arab": "ٲٕٟٚٛۄؠێ", "urd_Arab": "ٹڈڑںےہ"},
}
# The library's codes for the served languages it covers, per script.
_LIBRARY_CODES = {
    "Deva": {"hi": "hin_Deva", "mr": "mar_Deva", "ne": "npi_Deva", "sa": "san_Deva", "gom": "gom_Deva"},
    "Beng": {"bn": "ben_Beng", "as": "asm_Beng"},
}
# Frequent function words (and, for languages that write case and tense as endings, those endings) of the languages
# that share a script. Those of the library's languages are there to compare against, not to decide.
_MARKERS = {
    "hin_Deva": ("है हैं था थे थी के की का में और से को ने पर कि यह वह भी लिए गया गई किया कहा नहीं इस उस", ()),
    "mar_Deva": ("आहे आहेत आणि या व हे ते तो ती होते होता होती केले केला केली असे मध्ये त्यांनी साठी पण नाही झाले", ()),
    "npi_Deva": ("छ छन् थियो थिए र मा ले लाई पनि गरेको भएको हो यो त्यो भने गर्न छैन रहेको गरेका भन्दा बाट", ()),
    "san_Deva": ("अस्ति सन्ति च इति तथा एव अपि सः सा तत् यत् अत्र तस्य भवति कृते इदानीं अयं इयं वा", ()),
    "gom_Deva": ("आसा आसात आनी खातीर हांगा थंय जाल्यार केलें जाता जाले आशिल्ले नाका पूण हें तें सावन कडेन",
                 ("चेर", "लें", "लीं", "सावन")),
    "mai_Deva": ("अछि छल छलाह छथि छै आ सँ मे केर लेल सेहो नहि कएल गेल भेल एहि ओहि हमर अहाँ सभ केँ",
                 ("मे", "सँ", "केँ")),
    "brx_Deva": ("आरो नि आव खौ जों दं बे बिसोर बियो बिनि जादों मोनसे मोननै थाखाय होनाय आरोबाव नङा",
                 ("खौ", "फोर", "नाय", "दों", "गोन", "जों")),
    "doi_Deva": ("ऐ ऐन च ते दा गी नै कन्नै होर एह् ओह् थमां आस्तै लेई नेईं करदा करदी करदे सकदे होंदा", ()),
    "kas_Deva": ("छु छि छे तॖ मंज़ प्यठ हुंद हुंज़ ज़ि सॗत्य तिम अमि यिम कॊर वोन", ()),
    "snd_Deva": ("ऐं खे सां आहिनि कयो लाइ खां", ()),
    "ben_Beng": ("এবং করে হয় এই থেকে জন্য সঙ্গে তিনি তার করা হয়েছে হবে ও যে কিন্তু আর একটি", ()),
    "mni_Beng": ("অমসুং মসি মসিগী মখোয় মহাক্না ঙসি অমা অদুগা অদু মতম হায়না নত্তে লৈবাক অসি",
                 ("গী", "দগী", "শিং", "খি", "গনি", "খিবা")),
}
_MARKERS = {
    code: (frozenset(unicodedata.normalize("NFC", words).split()), tuple(unicodedata.normalize("NFC", e) for e in ends))
    for code, (words, ends) in _MARKERS.items()
}


@lru_cache(maxsize=1)
def language_identifier():
    """py3langid's model, loaded once (a few seconds: call it at start-up to keep that off the first request)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=None)
def _identifier_among(codes: tuple[str, ...]):
    """The library's classifier restricted to ``codes`` (its probabilities are then among those languages only)."""
    restricted = copy.copy(language_identifier())
    restricted.set_languages(codes)
    return restricted


def detect_language(text: str, sample_chars: int) -> Detection:
    """The served language ``text`` is in (read from its first ``sample_chars`` characters), or
    ``UnsupportedLanguage`` naming what it found instead."""
    sample = unicodedata.normalize("NFC", text[:sample_chars])
    characters = Counter(sample)
    letters = _letters_by_script(characters)
    indic = {script: n for script, n in letters.items() if script in SCRIPTS}
    total = sum(letters.values())
    if not indic or max(indic.values()) < MIN_SCRIPT_SHARE * total:
        raise _not_served(sample, letters)
    script = max(indic, key=indic.get)
    candidates = [code for code, language in LANGUAGES.items() if language.script == script]
    if len(candidates) == 1:
        lang, probability = candidates[0], 1.0
    else:
        lang, probability = _within_script(script, sample, characters, indic[script], letters)
    return Detection(lang, round(probability * indic[script] / sum(indic.values()), 3), script)


def _letters_by_script(characters: Counter) -> Counter:
    """Letters and vowel signs per script: ISO 15924 codes for the served scripts, Unicode names for others."""
    letters = Counter()
    for character, count in characters.items():
        category = unicodedata.category(character)[0]
        if category not in "LM":
            continue
        served = _SCRIPT_OF.match(character)
        if served:
            letters[served.lastgroup] += count
        elif category == "L":  # marks of other scripts (combining accents) are no evidence of a script
            letters[unicodedata.name(character, "unknown").split(" ")[0].title()] += count
    return letters


def _within_script(script: str, sample: str, characters: Counter, script_letters: int, letters) -> tuple[str, float]:
    """Distinctive letters decide when there are enough of them; else the library's pick, which function words may
    overrule."""
    distinctive = {code: sum(characters[c] for c in chars) for code, chars in _DISTINCTIVE_LETTERS[script].items()}
    evidence = sum(distinctive.values())
    if evidence < MIN_LETTER_SHARE * script_letters:
        if script == "Arab":  # Arabic, Persian, Pashto: none of the letters Urdu, Kashmiri and Sindhi add
            raise _not_served(sample, letters)
        return _function_words(sample, script, *_library_pick(script, sample))
    best = max(distinctive, key=distinctive.get)
    if script == "Arab":  # Urdu's letters are Kashmiri's too: Urdu is what remains without Kashmiri's or Sindhi's
        own = {code: distinctive[code] for code in ("snd_Arab", "kas_Arab")}
        best = max(own, key=own.get)
        if own[best] >= MIN_LETTER_SHARE * script_letters:  # Urdu's letters are no evidence against them
            return best, own[best] / sum(own.values())
        best = "urd_Arab"
    if best == "ben_Beng":  # র only rules out Assamese: Bengali or Manipuri
        return _function_words(sample, script, best, distinctive[best] / evidence)
    return best, distinctive[best] / evidence


def _library_pick(script: str, sample: str) -> tuple[str, float]:
    codes = _LIBRARY_CODES[script]
    library_code, probability = _identifier_among(tuple(codes)).classify(sample)
    return codes[library_code], probability


def _function_words(sample: str, script: str, lang: str, probability: float) -> tuple[str, float]:
    """The library's pick, unless another language's function words clearly outnumber the pick's own."""
    words = _WORD.findall(sample)
    hits = {
        code: sum(1 for w in words if w in vocabulary or (len(w) > 3 and w.endswith(endings)))
        for code, (vocabulary, endings) in _MARKERS.items()
        if LANGUAGES[code].script == script
    }
    # Only languages the library cannot tell (and Konkani) may overrule a confident pick: Hindi's हो and ले are Nepali
    # words too, and a short Hindi text rich in them is still the library's Hindi. An unsure pick (a headline of five
    # words) is overruled by any language's words, one of them enough.
    unsure = probability < UNSURE_PICK
    library = set(_LIBRARY_CODES.get(script, {}).values()) - {"gom_Deva"}
    challengers = {code: n for code, n in hits.items() if unsure or code not in library}
    if not challengers:
        return lang, probability
    best = max(challengers, key=challengers.get)
    share = hits[best] / max(len(words), 1)
    enough = 1 if unsure else MIN_MARKER_WORDS
    if best != lang and hits[best] >= enough and share >= MIN_MARKER_SHARE and hits[best] > hits.get(lang, 0):
        return best, hits[best] / (hits[best] + hits.get(lang, 0) + 1)  # one word is not certainty
    return lang, probability


def _not_served(sample: str, letters: Counter) -> UnsupportedLanguage:
    if not letters:
        return UnsupportedLanguage("the text has no letters: its language cannot be told")
    script, _ = letters.most_common(1)[0]
    n, code = max(((n, code) for code, n in letters.items() if code in SCRIPTS), default=(0, ""))
    if 0 < n < MIN_SCRIPT_SHARE * sum(letters.values()):  # a served script, too little of it to call the text so
        return UnsupportedLanguage(
            f"too little of the text is in a served script to serve it: {round(100 * n / sum(letters.values()))} % "
            f"of its letters are {_SCRIPT_NAMES[code]} script, the rest mostly "
            f"{_SCRIPT_NAMES.get(script, script).replace('_', ' ')} script (at least {MIN_SCRIPT_SHARE:.0%} are needed; or "
            f"name the language with source_lang). Served: {', '.join(LANGUAGES)}"
        )
    guess, _ = language_identifier().classify(sample)
    return UnsupportedLanguage(
        f"the text is in a language the service does not serve: its letters are mostly "
        f"{_SCRIPT_NAMES.get(script, script).replace('_', ' ')} script (language identified as {guess!r}). "
        f"Served: {', '.join(LANGUAGES)}"
    )


def require_script(text: str, lang: str, sample_chars: int) -> None:
    """``UnsupportedLanguage`` when ``text`` has no letter of the script of ``lang`` (a FLORES-200 code the caller
    named), naming the script its first ``sample_chars`` characters are mostly in; code-mixed English passes."""
    script = lang.rpartition("_")[2]
    if regex.search(rf"[\p{{Script={SCRIPTS[script]}}}&&\p{{L}}]", text, flags=regex.V1):
        return
    sample = unicodedata.normalize("NFC", text[:sample_chars])
    letters = _letters_by_script(Counter(sample))
    found = letters.most_common(1)[0][0] if letters else None
    mostly = f"its letters are mostly {_SCRIPT_NAMES.get(found, found).replace('_', ' ')} script" if found else ""
    raise UnsupportedLanguage(f"source_lang {lang} is written in {_SCRIPT_NAMES[script].replace('_', ' ')} script, but "
                              f"the text has no letter of it: {mostly or 'it has no letters'}; send the text's own language, or none to have "
                              "it detected")  # fmt: skip
