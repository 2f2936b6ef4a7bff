"""Pre- and post-processing of IndicTrans2 inputs and outputs (Indic → English), matching the upstream
IndicTransToolkit processor: punctuation normalization, Indic digits to ASCII, protection of e-mails, URLs, numbers
and handles behind ``<IDn>`` placeholders, Indic normalization + tokenization, language tags; on the way back the
placeholders are restored and the English is Moses-detokenized.

Difference from upstream, on purpose: placeholders are numbered in order of first appearance (upstream iterates a
Python ``set``, so its numbering changes from process to process), and the placeholder map travels with each
sentence instead of through a shared queue, so concurrent batches cannot mix their maps.
"""

from dataclasses import dataclass, field
from functools import lru_cache

import regex
from indicnlp.normalize.indic_normalize import IndicNormalizerFactory
from indicnlp.tokenize import indic_tokenize
from indicnlp.transliterate.unicode_transliterate import UnicodeIndicTransliterator
from sacremoses import MosesDetokenizer

from .patterns import compile_linear, url_spans

# FLORES-200 codes the service accepts as sources → the ISO code indic-nlp uses for their script handling: upstream's
# table, less its English and Latin-script entries (the service translates Indic sources into English). Perso-Arabic
# sources go through indic-nlp's Urdu normalizer and tokenizer; Ol Chiki through its Oriya normalizer and Meitei
# Mayek through its Devanagari one, as upstream does (they leave those scripts' letters alone).
FLORES_TO_ISO = {
    "asm_Beng": "as", "awa_Deva": "hi", "ben_Beng": "bn", "bho_Deva": "hi", "brx_Deva": "hi", "doi_Deva": "hi",
    "gom_Deva": "kK", "gon_Deva": "hi", "guj_Gujr": "gu", "hin_Deva": "hi", "hne_Deva": "hi", "kan_Knda": "kn",
    "kas_Arab": "ur", "kas_Deva": "hi", "mag_Deva": "hi", "mai_Deva": "hi", "mal_Mlym": "ml", "mar_Deva": "mr",
    "mni_Beng": "bn", "mni_Mtei": "hi", "npi_Deva": "ne", "ory_Orya": "or", "pan_Guru": "pa", "san_Deva": "hi",
    "sat_Olck": "or", "snd_Arab": "ur", "snd_Deva": "hi", "tam_Taml": "ta", "tel_Telu": "te", "unr_Deva": "hi",
    "urd_Arab": "ur",
}  # fmt: skip
# Scripts the model reads as they are; every other Indic script is first transliterated into Devanagari ("script
# unification": the model's vocabulary is shared across the Brahmi scripts through Devanagari).
_UNTRANSLITERATED_SCRIPTS = ("Arab", "Aran", "Olck", "Mtei", "Latn")
TARGET_LANG = "eng_Latn"

# Indic digit blocks (Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Telugu, Kannada, Arabic-Indic, Extended
# Arabic-Indic, Ol Chiki, Meetei Mayek) → ASCII digits.
_DIGIT_ZEROS = (0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0CE6, 0x0660, 0x06F0, 0x1C50, 0xABF0)
_DIGITS = {zero + i: str(i) for zero in _DIGIT_ZEROS for i in range(10)} | {0x0C67 + i: str(i + 1) for i in range(9)}

# Upstream's punctuation normalization (Moses'), in its order. Several of its rules are about no-break spaces
# (U+00A0, written out here): a digit, a no-break space and a digit become a decimal point, but "12 10" with an
# ordinary space stays two numbers.
_PUNCT_REPLACEMENTS = [
    (regex.compile(r"\r"), ""),
    (regex.compile(r"\(\s*"), "("),
    (regex.compile(r"\s*\)"), ")"),
    (regex.compile(r"\s:\s?"), ":"),
    (regex.compile(r"\s;\s?"), ";"),
    (regex.compile(r"[`´‘‚’]"), "'"),
    (regex.compile(r"[„“”«»]"), '"'),
    (regex.compile(r"[–—]"), "-"),
    (regex.compile("\u00a0%"), "%"),
    (regex.compile("nº\u00a0"), "nº "),
    (regex.compile("\u00a0ºC"), " ºC"),
    (regex.compile("\u00a0[?!;]"), lambda m: m.group(0).strip()),
    (regex.compile(",\u00a0"), ", "),
    (regex.compile(r"[ ]{2,}"), " "),
    (regex.compile(r"\) ([\.!:?;,])"), r")\1"),
    (regex.compile(r"(\d) %"), r"\1%"),
    (regex.compile(r"\"([,\.]+)"), r'\1"'),
    (regex.compile("(\\d)\u00a0(\\d)"), r"\1.\2"),
]

# Upstream's patterns, in its order (e-mails before URLs: an e-mail contains a domain; numbers; then handles and
# hashtags). They run through RE2 or a scanner (service.text.patterns): the same matches in linear time.
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,}"
NUMERAL_PATTERN = (
    r"(~?\d+\.?\d*\s?%?\s?-?\s?~?\d+\.?\d*\s?%|~?\d+%|\d+[-\/.,:']\d+[-\/.,:'+]\d+(?:\.\d+)?|\d+[-\/.:'+]\d+(?:\.\d+)?)"
)
OTHER_PATTERN = r"[A-Za-z0-9]*[#|@]\w+"
_EMAIL, _NUMERAL, _OTHER = (compile_linear(p) for p in (EMAIL_PATTERN, NUMERAL_PATTERN, OTHER_PATTERN))


def _spans_of(pattern):
    return lambda text: [m.span() for m in pattern.finditer(text)]


_PROTECTED = (
    (_spans_of(_EMAIL), lambda m: True),
    (url_spans, lambda m: len(m.replace(".", "")) >= 4),
    (_spans_of(_NUMERAL), lambda m: len(m.replace(" ", "").replace(".", "").replace(":", "")) >= 4),
    (_spans_of(_OTHER), lambda m: True),
)
_WHITESPACE = regex.compile(r"\s+")
# indic-nlp's trivial tokenizer. Its number pattern, ``([0-9]+ [,.:/] )+[0-9]+``, retries from every digit of a run
# (quadratic); here it starts only where a run starts (a later start in the same run would have matched there
# first), or where the last match ended, and its digit runs never give digits back.
_INDIC_PUNCTUATION = indic_tokenize.triv_tokenizer_indic_pat
_NUMBER_SEQUENCE = regex.compile(r"(?:(?<![0-9])|\G)(?:[0-9]++ [,.:/] )+[0-9]++")
_SPACES = regex.compile(r"[ ]+")

# Spellings the model is known to give a placeholder in its output (the upstream list of "failure cases").
_PLACEHOLDER_WORDS = (
    "آی ڈی ", "ꯑꯥꯏꯗꯤ", "आईडी", "आई . डी . ", "आई . डी .", "आई. डी. ", "आई. डी.", "आय. डी. ", "आय. डी.", "आय . डी . ",
    "आय . डी .", "आइ . डी . ", "आइ . डी .", "आइ. डी. ", "आइ. डी.", "ऐटि", "آئی ڈی ", "ᱟᱭᱰᱤ ᱾", "आयडी", "ऐडि", "आइडि", "ᱟᱭᱰᱤ",
)  # fmt: skip


def _placeholder_spellings(n: int) -> list[str]:
    """Every way the model may write placeholder n back (bracket and spacing variants, both cases)."""
    spellings = []
    for tag in ("ID", "id"):
        spellings += [f"<{tag}{n}>", f"< {tag}{n} >", f"[{tag}{n}]", f"[ {tag}{n} ]", f"[{tag} {n}]"]
        spellings += [f"<{tag}{n}]", f"< {tag}{n}]", f"<{tag}{n} ]"]
    for word in _PLACEHOLDER_WORDS:
        spellings += [f"<{word}{n}>", f"< {word}{n} >", f"< {word} {n} >", f"<{word} {n}]", f"< {word} {n} ]"]
        spellings += [f"[{word}{n}]", f"[{word} {n}]", f"[ {word}{n} ]", f"[ {word} {n} ]", f"{word} {n}", f"{word}{n}"]
    return spellings


@dataclass
class PreparedSentence:
    """A source line ready for the tokenizer, and what post-processing needs to restore its placeholders; ``terms``:
    the glossary's targets among them, with the source term each stands for as written."""

    text: str
    placeholders: dict[str, str] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LostTerm:
    """A glossary term whose placeholder the model dropped: the English of its sentence (or of the part of an
    over-long one) lacks its target."""

    english: str
    term: str
    target: str


def normalize_punctuation(text: str) -> str:
    for pattern, replacement in _PUNCT_REPLACEMENTS:
        text = pattern.sub(replacement, text)
    return text.strip()


def protect_entities(text: str) -> tuple[str, dict[str, str]]:
    """Replace e-mails, URLs, long numbers and handles by <ID1>, <ID2>, … and return the restoring map."""
    return protect(text)[:2]


def protect(text: str, glossary=None) -> tuple[str, dict[str, str], dict[str, str]]:
    """``protect_entities``, and with ``glossary`` (an object whose ``matches(text)`` gives the (start, end, target)
    of its terms, longest match first: ``service.checks.glossary.Glossary``) its terms are replaced first, and
    restored as their targets: the model was trained to carry ``<IDn>`` through, so a term comes out as the glossary
    says. Returns (text, restoring map, {target: the source term as written} of the glossary's terms found).

    Each pattern's matches are replaced in one pass over the text. Upstream calls ``str.replace`` once per distinct
    match, which also replaces the same characters where they are not a match (inside a longer number, say) and costs
    time proportional to the text times the number of matches.
    """
    placeholders: dict[str, str] = {}
    serials: dict[str, int] = {}  # restored text → its placeholder's number
    terms: dict[str, str] = {}
    finders = ((glossary.matches, lambda m: True),) if glossary else ()
    for find, keep in finders + _PROTECTED:
        pieces, last = [], 0
        for start, end, *target in find(text):  # an entity's span, or a term's with its target
            match = text[start:end]
            if not keep(match):
                continue
            original = target[0] if target else match
            if target:
                terms.setdefault(original, match)
            if original not in serials:
                serials[original] = serial = len(serials) + 1
                for spelling in _placeholder_spellings(serial):
                    placeholders[spelling] = original
            pieces += [text[last:start], f"<ID{serials[original]}>"]
            last = end
        if pieces:
            text = "".join(pieces) + text[last:]
    text = _WHITESPACE.sub(" ", text).replace(">/", ">").replace("]/", "]")
    return text, placeholders, terms


@lru_cache(maxsize=None)
def _normalizer(iso: str):
    return IndicNormalizerFactory().get_normalizer(iso)


_transliterator = UnicodeIndicTransliterator()
_detokenizer = MosesDetokenizer(lang="en")


def trivial_tokenize(text: str) -> list[str]:
    """``indic_tokenize.trivial_tokenize_indic``, in linear time: spaces around punctuation and dandas, except inside
    number sequences ("12 / 05 / 2024" stays one token)."""
    text = _SPACES.sub(" ", _INDIC_PUNCTUATION.sub(r" \1 ", text.replace("\t", " "))).strip(" ")
    pieces, previous = [], 0
    for match in _NUMBER_SEQUENCE.finditer(text):
        pieces += [text[previous : match.start()], match.group().replace(" ", "")]
        previous = match.end()
    pieces.append(text[previous:])
    return "".join(pieces).split(" ")


def check_language_pair(src_lang: str, tgt_lang: str = TARGET_LANG) -> None:
    if src_lang not in FLORES_TO_ISO or tgt_lang != TARGET_LANG:
        supported = ", ".join(f"{s}→{TARGET_LANG}" for s in sorted(FLORES_TO_ISO))
        raise ValueError(f"unsupported language pair {src_lang}→{tgt_lang}; supported: {supported}")


def preprocess(
    sentence: str, src_lang: str = "hin_Deva", tgt_lang: str = TARGET_LANG, glossary=None
) -> PreparedSentence:
    """One raw source sentence → the tagged, tokenized line IndicTrans2 was trained on; with ``glossary`` its terms
    are placeholders (``protect``)."""
    check_language_pair(src_lang, tgt_lang)
    iso = FLORES_TO_ISO[src_lang]
    text = normalize_punctuation(sentence).translate(_DIGITS)
    text, placeholders, terms = protect(text, glossary)
    normalized = _normalizer(iso).normalize(text.strip())
    # indic-nlp's Urdu tokenizer (one character class, linear) for Perso-Arabic; its Indic one, made linear, else.
    tokens = indic_tokenize.trivial_tokenize_urdu(normalized) if iso == "ur" else trivial_tokenize(normalized)
    text = " ".join(tokens)
    if src_lang.split("_")[1] not in _UNTRANSLITERATED_SCRIPTS:
        text = _transliterator.transliterate(text, iso, "hi").replace(" ् ", "्")
    return PreparedSentence(f"{src_lang} {tgt_lang} {text.strip()}", placeholders, terms)


# A placeholder the model wrote in a way none of the spellings above has (``<ID 1>``, ``(ID1)``, ``<id1``): a
# bracket on at least one side, so a plain "ID 1" in the text is left alone.
_MANGLED_PLACEHOLDER = compile_linear(r"[<\[(] ?[Ii][Dd] ?([0-9]{1,4}) ?[>\])]?|[Ii][Dd] ?([0-9]{1,4}) ?[>\])]")
_SLOT = compile_linear("\ue000([0-9]+)\ue001")  # a placeholder found, while the others are looked for


def restore(decoded: str, placeholders: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """Model output (sentencepiece-decoded English) → final English: placeholders restored, detokenized; and the
    originals that were put back (a placeholder the model dropped is missing from them).

    Each placeholder is first marked with a private-use slot and only then replaced by what it stands for, so a
    restored text (a glossary target) is never read as another placeholder's spelling.
    """
    placeholders = placeholders or {}
    originals = list(dict.fromkeys(placeholders.values()))
    slot_of = {original: f"\ue000{i}\ue001" for i, original in enumerate(originals)}
    for spelling, original in placeholders.items():
        if spelling in decoded:
            decoded = decoded.replace(spelling, slot_of[original])

    def mangled(match) -> str:
        original = placeholders.get(f"<ID{int(match.group(1) or match.group(2))}>")
        return match.group() if original is None else slot_of[original]

    if placeholders:
        decoded = _MANGLED_PLACEHOLDER.sub(mangled, decoded)
    put_back = set()

    def fill(match) -> str:
        index = int(match.group(1))
        if index >= len(originals):  # not one of ours (the model's own private-use characters)
            return match.group()
        put_back.add(originals[index])
        return originals[index]

    decoded = _SLOT.sub(fill, decoded)
    return _detokenizer.detokenize(decoded.split(" ")), put_back


def postprocess(decoded: str, placeholders: dict[str, str] | None = None) -> str:
    """Model output (sentencepiece-decoded English) → final English: placeholders restored, detokenized."""
    return restore(decoded, placeholders)[0]
