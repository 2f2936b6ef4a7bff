"""Which language a text is in, the codes callers may name a language by, and the table of served languages."""

import pytest

from service.errors import UnsupportedLanguage
from service.text.indic_processing import FLORES_TO_ISO
from service.text.language import LANGUAGES, detect_language, normalize_language_code
from service.text.splitting import split_sentences

from .conftest import MAX_CODE_CHARS, SAMPLE_CHARS
from .indic_passages import PASSAGES

CASES = [(code, i, text) for code, texts in PASSAGES.items() for i, text in enumerate(texts)]


def test_the_served_languages_are_indictrans2s_sources():
    assert len(LANGUAGES) == 25 and len({language.name for language in LANGUAGES.values()}) == 22
    assert set(LANGUAGES) <= set(FLORES_TO_ISO)  # the pre-processing takes every one of them
    assert set(PASSAGES) == set(LANGUAGES)
    xlsum = {language.iso for language in LANGUAGES.values() if language.xlsum}
    assert xlsum == {"bn", "gu", "hi", "mr", "ne", "pa", "ta", "te", "ur"}


@pytest.mark.parametrize("code, i, text", CASES, ids=[f"{code}-{i}" for code, i, _ in CASES])
def test_each_passage_is_detected_as_its_language(code, i, text):
    detection = detect_language(text, SAMPLE_CHARS)
    assert (detection.lang, detection.script) == (code, code.split("_")[1])
    assert 0 < detection.confidence <= 1


@pytest.mark.parametrize("group", [("hin_Deva", "mar_Deva", "npi_Deva"), ("ben_Beng", "asm_Beng")], ids="/".join)
def test_neighbours_are_told_apart_sentence_by_sentence(group):
    """Languages that share a script, told apart on each sentence of their passages alone (a headline's length)."""
    for code in group:
        for text in PASSAGES[code]:
            for sentence in split_sentences(text, code):
                assert detect_language(sentence, SAMPLE_CHARS).lang == code, sentence


def test_urdu_and_kashmiri_by_kashmiris_letters():
    """Kashmiri writes vowels Urdu has no letters for (ٲ ٕ ۄ ٚ …); a Kashmiri word quoted in Urdu news is not enough."""
    for text in PASSAGES["kas_Arab"]:
        for sentence in split_sentences(text, "kas_Arab"):
            if any(letter in sentence for letter in "ٲٕٟٚٛۄؠێ"):
                assert detect_language(sentence, SAMPLE_CHARS).lang == "kas_Arab", sentence
    quoting = PASSAGES["urd_Arab"][0] + " انہوں نے کٲشُر زبان میں بھی بات کی۔"
    assert detect_language(quoting, SAMPLE_CHARS).lang == "urd_Arab"


# Short Hindi texts rich in हो and ले (Nepali function words too): the library's Hindi holds.
HINDI_WITH_NEPALI_WORDS = [
    "अगर बारिश हो तो मैच रद्द हो सकता है या फिर अगले दिन हो। खिलाड़ियों को होटल ले जाया गया।",
    "जो हो सो हो, वे आज ही दवा ले लें। डॉक्टर ने कहा है कि बुखार जल्दी ठीक हो जाएगा।",
    "हो सकता है कि बस देर से आए, तो टिकट ले लो और इंतजार करो।",
]


@pytest.mark.parametrize("text", HINDI_WITH_NEPALI_WORDS)
def test_words_shared_with_a_library_language_never_overrule_the_library(text):
    assert detect_language(text, SAMPLE_CHARS).lang == "hin_Deva"


# Headlines: a few words, where the library is unsure; function words of its own languages decide then.
HEADLINES = {
    "hin_Deva": ["भाजपा के 5 विधायक दिल्ली पहुंचे।", "राहुल गांधी का केंद्र पर हमला", "यूपी में शीतलहर का अलर्ट",
                 "किसानों का आंदोलन जारी", "चुनाव आयोग ने तारीखों का ऐलान किया"],
    "mar_Deva": ["मुंबईत मुसळधार पाऊस", "राज्य सरकारने नवी योजना जाहीर केली"],
    "npi_Deva": ["सरकारले नयाँ बजेट ल्यायो", "नेपालले खेल जित्यो"],
}


@pytest.mark.parametrize("code, text", [(code, t) for code, texts in HEADLINES.items() for t in texts])
def test_headlines_are_read_in_their_language(code, text):
    detected = detect_language(text, SAMPLE_CHARS)
    assert detected.lang == code and detected.confidence < 1, detected


def test_kashmiris_confidence_is_not_lowered_by_the_letters_it_shares_with_urdu():
    for text in PASSAGES["kas_Arab"]:
        detected = detect_language(text, SAMPLE_CHARS)
        assert detected.lang == "kas_Arab" and detected.confidence >= 0.9, detected


def test_code_mixed_english_does_not_hide_the_language():
    assert detect_language("BJP ने Lok Sabha चुनाव जीता", SAMPLE_CHARS).lang == "hin_Deva"
    text = PASSAGES["tam_Taml"][0] + " The Chief Minister said so in English at a press meet on Monday."
    assert detect_language(text, SAMPLE_CHARS).lang == "tam_Taml"


@pytest.mark.parametrize(
    "text, found",
    [
        ("The government announced a new education policy on Tuesday.", "Latin script (language identified as 'en')"),
        ("دولت جمهوری اسلامی ایران روز سه شنبه سیاست آموزشی جدیدی را اعلام کرد.", "Arabic script"),
        ("أعلنت الحكومة يوم الثلاثاء عن سياسة تعليمية جديدة في البلاد.", "Arabic script"),
        ("حکومت د سه شنبې په ورځ نوې تعلیمي پالیسي اعلان کړه.", "Arabic script"),
        ("ශ්‍රී ලංකා රජය අඟහරුවාදා නව අධ්‍යාපන ප්‍රතිපත්තියක් ප්‍රකාශයට පත් කළේය.", "Sinhala script"),
        ("政府周二宣布了新的教育政策。", "(language identified as 'zh')"),
        ("Правительство объявило о новой политике.", "Cyrillic script"),
        ("The BJP said 'जीत' was certain in the Lok Sabha election this year.", "the rest mostly Latin script"),
        ("The state government announced a new irrigation scheme for farmers in the district on Monday. Officials "
         "said the money would reach their bank accounts within a week of the announcement. The opposition "
         "criticised the delay in the monsoon session. सरकार ने कहा कि योजना लागू होगी।",
         "% of its letters are Devanagari script"),
        ("१२३ । 456 😀🎉", "no letters"),
    ],
)  # fmt: skip
def test_unserved_text_is_refused_naming_what_was_found(text, found):
    with pytest.raises(UnsupportedLanguage) as raised:
        detect_language(text, SAMPLE_CHARS)
    assert raised.value.code == "unsupported_language"
    assert found in raised.value.message


def test_only_the_start_of_a_long_text_is_read():
    hindi = " ".join(PASSAGES["hin_Deva"]) * 5  # longer than the sample
    assert detect_language(hindi + " The rest is English." * 2000, SAMPLE_CHARS).lang == "hin_Deva"


@pytest.mark.parametrize(
    "given, code",
    [("bn", "ben_Beng"), ("BN", "ben_Beng"), ("ben_Beng", "ben_Beng"), ("BEN_BENG", "ben_Beng"),
     ("ben-beng", "ben_Beng"), ("ben", "ben_Beng"), ("hi-IN", "hin_Deva"), ("bn_BD", "ben_Beng"),
     ("ks", "kas_Arab"), ("ks-Deva", "kas_Deva"), ("kas_Deva", "kas_Deva"), ("sd", "snd_Arab"), ("sd_Deva", "snd_Deva"),
     ("mni", "mni_Beng"), ("mni-Mtei", "mni_Mtei"), ("ne", "npi_Deva"), ("nep", "npi_Deva"), ("kok", "gom_Deva"),
     ("or", "ory_Orya"), ("sat", "sat_Olck"), ("brx", "brx_Deva"), ("doi", "doi_Deva"), ("mai", "mai_Deva"),
     ("ur-PK", "urd_Arab"), ("pa-IN", "pan_Guru"), ("ml", "mal_Mlym"), ("gom_Deva", "gom_Deva")],
)  # fmt: skip
def test_language_codes(given, code):
    assert normalize_language_code(given, MAX_CODE_CHARS) == code


def test_every_served_code_and_iso_code_is_accepted():
    for code, language in LANGUAGES.items():
        assert normalize_language_code(code, MAX_CODE_CHARS) == code
        assert LANGUAGES[normalize_language_code(language.iso, MAX_CODE_CHARS)].name == language.name


@pytest.mark.parametrize(
    "given",
    ["fr", "en", "eng_Latn", "xx", "", "pa-Arab", "hi_Latn", "hin_Deva_x", "hi-IN-Deva-Latn", "a" * 50, "ben Beng",
     "হি", "hi\n", "ben_Beng_Deva", None, 7],
)  # fmt: skip
def test_unknown_language_codes_are_refused(given):
    with pytest.raises(UnsupportedLanguage) as raised:
        normalize_language_code(given, MAX_CODE_CHARS)
    assert raised.value.code == "unsupported_language" and "ben_Beng" in raised.value.message
    assert len(raised.value.message) < 500  # a long code is not echoed whole
