"""Every pattern and text function applied to request text runs in time linear in the text, on the inputs that made
backtracking patterns explode; and the linear rewrites find exactly what upstream's patterns find."""

import random
import re
import sys
import unicodedata

import pytest
import re2
import regex

from service.config import Settings
from service.errors import ArticleTooLong, InvalidText, UnsupportedLanguage
from service.text import checks, html_attributes, html_doc, indic_processing, language, patterns, splitting
from service.translation.tokenizer import IndicTransTokenizer

from .conftest import FIXTURES, SAMPLE_CHARS, cpu_seconds

# Zeros of the digit blocks of every script of India (and the Perso-Arabic ones used for Urdu, Kashmiri, Sindhi).
INDIC_DIGIT_SCRIPTS = ("DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU", "KANNADA",
                       "MALAYALAM", "SINHALA LITH", "OL CHIKI", "MEETEI MAYEK", "ARABIC-INDIC", "EXTENDED ARABIC-INDIC",
                       "LIMBU", "LEPCHA", "SAURASHTRA", "TIBETAN")  # fmt: skip
_DECIMAL_DIGITS = [chr(c) for c in range(sys.maxunicode) if unicodedata.category(chr(c)) == "Nd"]  # one pass
INDIC_DIGITS = {
    script: "".join(c for c in _DECIMAL_DIGITS if unicodedata.name(c, "").startswith(f"{script} DIGIT"))
    for script in INDIC_DIGIT_SCRIPTS
}


def cycle(unit: str):
    return lambda n: (unit * (n // len(unit) + 1))[:n]


FAMILIES = {
    "ascii digits": cycle("1"),
    **{f"{script.lower()} digits": cycle(digits) for script, digits in INDIC_DIGITS.items()},
    "digits and separators": cycle("1.1-1/1,1:1'1+"),
    "digits and spaces": cycle("1 "),
    "digit percent ranges": cycle("1 % - ~"),
    "digits then text": lambda n: "1" * (n - 4) + " कल",
    "at signs": cycle("@"),
    "dots": cycle("."),
    "dashes": cycle("-"),
    "address-like": lambda n: "a" * (n // 2) + "@" + cycle("b.")(n - n // 2 - 1),
    "at-dot pairs": cycle("a@a."),
    "domain labels": cycle("a."),
    "dashed words": cycle("a-"),
    "url path marks": lambda n: "a.b" + cycle("/?#&=%")(n - 3),
    "slashes after a domain": lambda n: "a." + "/" * (n - 2),
    "schemes": cycle("x-http://"),
    "hashes": cycle("#"),
    "hashtags": cycle("a#"),
    "long latin word": cycle("a"),
    "long devanagari word": cycle("क"),
    "dandas": lambda n: "क" + "।" * (n - 1),
    "initials": cycle("a. "),
    "spaces": lambda n: " " * (n - 1) + "x",
    "brackets": cycle("( "),
    "tags": cycle("<a"),
    # HTML mode's shapes (issue 25): attributes, quoted values, tags opened inside tags, control characters.
    "attributes": lambda n: "<p " + " ".join(f"a{i}" for i in range(n // 7)) + ">",
    "quoted attribute values": lambda n: '<p a="' + cycle("<b c ")(n - 7) + '">',
    "tags in tags": cycle("<a b<c d='<e f=\"g "),
    "control characters": cycle("क\x1c\x00\x7f\x85\ufffe&#x1c;"),
    "sentence": cycle("भाजपा ने आज बैठक की। "),
    "urdu letters and marks": cycle("کٲٕ ڪ۔؟، "),
    "ol chiki and meitei marks": cycle("ᱚ᱾ ꯀ꯫ "),
    "dravidian initials": cycle("ப. கெ. "),
    "assamese and bengali letters": cycle("ৰর । "),
    "many distinct letters": lambda n: "".join(chr(0x4E00 + i % 20_000) for i in range(n)),
}


def compiled_patterns():
    """Every compiled pattern the text modules hold, found by looking (a new one is covered without listing it)."""
    found = {}
    for module in (indic_processing, splitting, checks, patterns, html_doc, html_attributes, language):
        for name, value in vars(module).items():
            value = list(value.values()) if isinstance(value, dict) else value
            values = value if isinstance(value, (list, tuple)) else [value]
            for i, item in enumerate(values):
                item = item[0] if isinstance(item, tuple) else item
                if isinstance(item, (regex.Pattern, re2._Regexp, re.Pattern)):
                    found[f"{module.__name__.rsplit('.', 1)[1]}.{name}" + (f"[{i}]" if len(values) > 1 else "")] = item
    return found


PATTERNS = compiled_patterns()


@pytest.fixture(scope="module")
def tokenizer():
    return IndicTransTokenizer(FIXTURES / "tokenizer")


def text_functions(tokenizer):
    def fits(part):
        return len(tokenizer.encode_source(indic_processing.preprocess(part).text)) <= 256

    return {
        "url_spans": patterns.url_spans,
        "normalize_punctuation": indic_processing.normalize_punctuation,
        "protect_entities": indic_processing.protect_entities,
        "preprocess": indic_processing.preprocess,
        "clean_article": lambda text: checks.clean_article("क " + text),
        "split_article": splitting.split_article,
        "split_to_fit (translator's limit)": lambda text: splitting.split_to_fit(text, fits),
        "count_attributes": html_attributes.count_attributes,
        "HtmlDocument": html_document,
        # Perso-Arabic sources take indic-nlp's Urdu normalizer and tokenizer; the Dravidian scripts' splitting looks
        # for initials (each script's sentence-final marks are patterns, tested above).
        "preprocess (Urdu)": lambda text: indic_processing.preprocess(text, "urd_Arab"),
        "split_article (Tamil)": lambda text: splitting.split_article(text, "tam_Taml"),
        "detect_language": detected_or_refused,
        "normalize_language_code": lambda text: refused(language.normalize_language_code, text, len(text)),
        "require_script": lambda text: refused(language.require_script, text, "ben_Beng", SAMPLE_CHARS),
    }


def html_document(text: str) -> None:
    """HTML mode's whole handling of a text (parse, sanitize, sentences, fill), as in a request."""
    settings = Settings()
    limits = html_doc.HtmlLimits(settings.max_html_attributes_per_element, settings.max_html_attributes)
    try:
        document = html_doc.HtmlDocument(text, True, limits)
    except (ArticleTooLong, InvalidText):  # too many attributes, nested too deep: refused (quickly too)
        return
    document.fill(document.sentences)


def refused(function, text, *bounds):
    try:
        return function(text, *bounds)
    except UnsupportedLanguage as refusal:
        return refusal


def detected_or_refused(text):
    """Detection of the text, and of it after each served script's letters (so that each script's rules run)."""
    for prefix in ("", "क", "ক", "ک", "ᱚ", "ꯀ"):
        refused(language.detect_language, prefix * 50 + text, SAMPLE_CHARS)


def assert_linear(name, function, family, n, max_seconds_at_n, make=None):
    """``make(n)`` builds the input (default: the family's maker)."""
    make = make or FAMILIES[family]
    small, large = cpu_seconds(function, make(n // 8)), cpu_seconds(function, make(n))
    assert large < max_seconds_at_n, f"{name} on {family}: {large:.2f} s at n={n}"
    # Below 50 ms, allocation and caches dominate. Above it, 8× the input may cost at most 16× the time: linear code
    # measured up to 14× between these sizes (the larger input no longer fits the CPU's caches); quadratic is 64×.
    assert large < 0.05 or large <= 16 * max(small, 0.002), f"{name} on {family}: {small:.4f} s → {large:.4f} s"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_pattern_is_linear(family):
    assert len(PATTERNS) >= 35  # the punctuation rules, the protected entities, the checks, the splitters, detection
    for name, pattern in PATTERNS.items():
        assert_linear(name, lambda text, p=pattern: sum(1 for _ in p.finditer(text)), family, 160_000, 1.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_text_functions_are_linear(family, tokenizer):
    # 20 000 characters is the article limit. The bound is the whole preparation of one such adversarial sentence
    # for the translator (measured at most 0.75 s alone, 1.3 s inside the full suite).
    for name, function in text_functions(tokenizer).items():
        assert_linear(name, function, family, 20_000, 2.0)


# --- the rewrites find what upstream's patterns find -----------------------------------------------------------------
@pytest.mark.parametrize("shorthand", [r"\d", r"\s", r"\w"])
def test_re2_classes_are_regex_classes(shorthand):
    everything = patterns._all_code_points()
    translated = patterns.compile_linear(shorthand)
    assert translated.findall(everything) == regex.findall(shorthand, everything)


ALPHABET = list("1२௧ .,:/-'+%~@#|aZ_\t\u00a0?&=") + ["क", "x.com", "é", "http://", "https://", "ftp://", ".."]
UPSTREAM = {
    "email": (indic_processing.EMAIL_PATTERN, lambda t: [m.span() for m in indic_processing._EMAIL.finditer(t)]),
    "numeral": (indic_processing.NUMERAL_PATTERN, lambda t: [m.span() for m in indic_processing._NUMERAL.finditer(t)]),
    "other": (indic_processing.OTHER_PATTERN, lambda t: [m.span() for m in indic_processing._OTHER.finditer(t)]),
    "url": (patterns.URL_UPSTREAM, patterns.url_spans),
}


@pytest.mark.parametrize("name", UPSTREAM)
def test_linear_patterns_find_what_upstream_finds(name):
    upstream, ours = regex.compile(UPSTREAM[name][0]), UPSTREAM[name][1]
    rng = random.Random(12)
    for _ in range(30_000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
        assert ours(text) == [m.span() for m in upstream.finditer(text)], repr(text)


def test_protected_entities_on_news_text():
    text = ("संपर्क: press@bjp.org या https://www.bjp.org/hi/news?id=370 देखें, 12.5% वोट, 2023-24 में 1,20,000 "
            "लोग, #Election2024 और @narendramodi ने 10-20% की बात की।")  # fmt: skip
    protected, placeholders = indic_processing.protect_entities(text)
    originals = {placeholders[f"<ID{i}>"] for i in range(1, 9)}
    assert originals == {"press@bjp.org", "https://www.bjp.org/hi/news?id=370", "12.5%", "2023-24", "1,20,000",
                         "#Election2024", "@narendramodi", "10-20%"}  # fmt: skip
    assert "<ID9>" not in placeholders and protected.count("<ID") == 8


def test_trivial_tokenize_is_indic_nlps():
    from indicnlp.tokenize import indic_tokenize

    rng = random.Random(3)
    alphabet = list("12 ,.:/।-a") + ["क", "  ", "\t"]
    for _ in range(30_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert indic_processing.trivial_tokenize(text) == indic_tokenize.trivial_tokenize_indic(text), repr(text)
