"""Pre/post-processing against the upstream processor's golden outputs; splitting and input checks."""

import json

import pytest

from service.errors import InvalidText, UnsupportedLanguage
from service.text.checks import clean_article
from service.text.indic_processing import (
    check_language_pair,
    normalize_punctuation,
    postprocess,
    preprocess,
    protect_entities,
)
from service.text.language import require_script
from service.text.splitting import split_article, split_sentences, split_to_fit
from service.translation.tokenizer import IndicTransTokenizer

from .conftest import FIXTURES, SAMPLE_CHARS, SEED_TEXT
from .indic_passages import PASSAGES

GOLDEN = json.loads((FIXTURES / "tokenization_golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tokenizer():
    return IndicTransTokenizer(FIXTURES / "tokenizer")


@pytest.mark.parametrize("case", GOLDEN["source_cases"], ids=lambda c: c["raw"][:30])
def test_source_golden(case, tokenizer):
    line = preprocess(case["raw"], GOLDEN["src_lang"], GOLDEN["tgt_lang"]).text
    assert line == case["preprocessed"]
    assert tokenizer.source_pieces(line) == case["src_pieces"]
    assert tokenizer.encode_source(line) == case["src_ids"]


@pytest.mark.parametrize("case", GOLDEN["target_cases"], ids=lambda c: c["text"][:30])
def test_target_golden(case, tokenizer):
    assert tokenizer.encode_target(case["text"]) == case["tgt_ids"]


def test_postprocess_golden():
    # postprocess_cases[i] is the model's output for source_cases[i]: its placeholders map back to that source.
    for source, case in zip(GOLDEN["source_cases"], GOLDEN["postprocess_cases"], strict=True):
        placeholders = preprocess(source["raw"]).placeholders
        assert postprocess(case["decoded"], placeholders) == case["postprocessed"]


def test_only_a_no_break_space_between_digits_is_a_decimal_point():
    """Upstream's (Moses') rules about no-break spaces are about no-break spaces: "12 10" stays two numbers."""
    assert normalize_punctuation("पिछले 12 10 दिन , 5 % और 3 ?") == "पिछले 12 10 दिन , 5% और 3 ?"
    assert normalize_punctuation("12\u00a0500 लोग, 10\u00a0% और क्या\u00a0?") == "12.500 लोग, 10% और क्या?"


def test_placeholders_numbered_in_order_of_appearance():
    text, mapping = protect_entities("a@b.org लिखें, फिर c@d.org और www.example.com/x देखें")
    assert text == "<ID1> लिखें, फिर <ID2> और <ID3> देखें"
    assert mapping["<ID1>"] == "a@b.org" and mapping["< ID2 >"] == "c@d.org" and mapping["[ID3]"] == "www.example.com/x"


def test_decode_drops_specials_and_joins_pieces(tokenizer):
    ids = GOLDEN["target_cases"][0]["tgt_ids"]
    assert tokenizer.decode([2] + ids + [1, 1]) == GOLDEN["target_cases"][0]["text"]


def test_batch_is_left_padded(tokenizer):
    batch = tokenizer(["hin_Deva eng_Latn भाजपा", "hin_Deva eng_Latn भाजपा ने आज बैठक की ।"])
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][0, -1] == 1
    assert batch["input_ids"][0, -1] == tokenizer.eos_token_id


def test_language_pairs():
    check_language_pair("hin_Deva", "eng_Latn")
    with pytest.raises(ValueError, match="hin_Deva→eng_Latn"):
        check_language_pair("eng_Latn", "hin_Deva")


# --- splitting ----------------------------------------------------------------------------------------------------
def test_seed_keeps_paragraphs_and_sentences():
    layout = split_article(SEED_TEXT)
    paragraphs = [p for p in SEED_TEXT.strip().split("\n") if p.strip()]
    assert len(layout.paragraphs) == len(paragraphs)
    assert len(layout.sentences) > len(paragraphs)
    text, joined = layout.join(layout.sentences)
    assert text == SEED_TEXT.strip()
    assert joined == paragraphs
    for paragraph, sentences in zip(paragraphs, layout.paragraphs):
        assert all(s in paragraph for s in sentences)


def test_sentence_rules():
    text = 'डॉ. शर्मा ने कहा कि दर 3.5% रही। क्या यह सही है? हाँ! उन्होंने कहा, "हम जीतेंगे।" U.S. में भी ऐसा हुआ. अंत'
    assert split_sentences(text) == [
        "डॉ. शर्मा ने कहा कि दर 3.5% रही।",
        "क्या यह सही है?",
        "हाँ!",
        'उन्होंने कहा, "हम जीतेंगे।"',
        "U.S. में भी ऐसा हुआ.",
        "अंत",
    ]


# Sentences as written in the passages: each has three, but the last of each four-passage language has two and
# Urdu's and Sindhi's weather reports four (a question among them).
SENTENCE_COUNTS = {code: [3] * len(texts) for code, texts in PASSAGES.items()}
for code in ("hin_Deva", "mar_Deva", "npi_Deva", "ben_Beng", "asm_Beng", "urd_Arab", "kas_Arab"):
    SENTENCE_COUNTS[code][3] = 2
SENTENCE_COUNTS["urd_Arab"][1] = SENTENCE_COUNTS["snd_Arab"][1] = 4


@pytest.mark.parametrize("code", PASSAGES)
def test_passages_split_into_their_sentences(code):
    for text, count in zip(PASSAGES[code], SENTENCE_COUNTS[code], strict=True):
        sentences = split_sentences(text, code)
        assert len(sentences) == count, sentences
        assert " ".join(sentences) == " ".join(text.split())


@pytest.mark.parametrize(
    "code, text, sentences",
    [("urd_Arab", "پہلا جملہ۔ کیا دوسرا؟ ہاں! آخری", ["پہلا جملہ۔", "کیا دوسرا؟", "ہاں!", "آخری"]),
     ("snd_Arab", "پهريون جملو. ڇا ٻيو؟ آخري", ["پهريون جملو.", "ڇا ٻيو؟", "آخري"]),
     ("sat_Olck", "ᱥᱚᱨᱠᱟᱨ ᱫᱚ ᱾ ᱦᱚᱲ ᱠᱚ ᱿ ᱟᱨ", ["ᱥᱚᱨᱠᱟᱨ ᱫᱚ ᱾", "ᱦᱚᱲ ᱠᱚ ᱿", "ᱟᱨ"]),
     ("mni_Mtei", "ꯑꯃꯥ ꯂꯥꯎꯊꯣꯛꯈꯤ꯫ ꯍꯥꯌꯅꯥ ꯈꯪꯍꯟꯈꯤ꯫ ꯂꯩꯔꯤ", ["ꯑꯃꯥ ꯂꯥꯎꯊꯣꯛꯈꯤ꯫", "ꯍꯥꯌꯅꯥ ꯈꯪꯍꯟꯈꯤ꯫", "ꯂꯩꯔꯤ"]),
     ("ben_Beng", "ডা. রায় বললেন, 3.5% বেড়েছে। মো. করিম এলেন।", ["ডা. রায় বললেন, 3.5% বেড়েছে।", "মো. করিম এলেন।"]),
     ("mar_Deva", "सौ. पाटील आणि प्रा. जोशी आले. ते बोलले.", ["सौ. पाटील आणि प्रा. जोशी आले.", "ते बोलले."]),
     ("tam_Taml", "முதல்வர் மு.க. ஸ்டாலின் பேசினார். ப. சிதம்பரம் வந்தார். சரி",
      ["முதல்வர் மு.க. ஸ்டாலின் பேசினார்.", "ப. சிதம்பரம் வந்தார்.", "சரி"]),
     ("tel_Telu", "కె. చంద్రశేఖర్ రావు ప్రకటించారు. అది నిజం ఉంది. సరే",
      ["కె. చంద్రశేఖర్ రావు ప్రకటించారు.", "అది నిజం ఉంది.", "సరే"]),
     ("mal_Mlym", "കെ. സുധാകരൻ പറഞ്ഞു. അത് ശരിയാണ്.", ["കെ. സുധാകരൻ പറഞ്ഞു.", "അത് ശരിയാണ്."]),
     ("kan_Knda", "ಎಸ್. ಎಂ. ಕೃಷ್ಣ ಬಂದರು. ಮಳೆ ಇದೆ. ಸರಿ", ["ಎಸ್. ಎಂ. ಕೃಷ್ಣ ಬಂದರು.", "ಮಳೆ ಇದೆ.", "ಸರಿ"]),
     ("guj_Gujr", "એસ. જયશંકરે કહ્યું કે આ સાચું છે. આભાર.", ["એસ. જયશંકરે કહ્યું કે આ સાચું છે.", "આભાર."]),
     # Hindi keeps its rules: a one-syllable word ends a sentence, Urdu's full stop is not Hindi's.
     ("hin_Deva", "यह सही है. वह भी। ऐसा۔ नहीं", ["यह सही है.", "वह भी।", "ऐसा۔ नहीं"])],
)  # fmt: skip
def test_each_languages_sentence_marks_and_initials(code, text, sentences):
    assert split_sentences(text, code) == sentences


def test_the_layout_is_split_in_the_articles_language():
    layout = split_article("پہلا جملہ۔ دوسرا جملہ۔\n\nتیسرا؟", "urd_Arab")
    assert layout.paragraphs == [["پہلا جملہ۔", "دوسرا جملہ۔"], ["تیسرا؟"]]


@pytest.mark.parametrize("lang", ["hin", "", "hin_deva", "hin_Dev", "hin_Deva\n", "x_12ab"])
def test_splitting_wants_a_flores_code(lang):
    with pytest.raises(ValueError):
        split_sentences("एक। दो।", lang)


def test_blank_lines_are_kept_as_layout():
    layout = split_article("पहला पैरा।\n\n\nदूसरा पैरा।\nतीसरा।  \n")
    assert layout.join(["one.", "two.", "three."])[0] == "one.\n\ntwo.\nthree."


def test_split_to_fit_prefers_clauses_then_words_and_loses_nothing():
    sentence = "एक, दो तीन चार, पाँच छह; सात आठ नौ दस ग्यारह"
    pieces = split_to_fit(sentence, lambda s: len(s.split()) <= 3)
    assert pieces == ["एक,", "दो तीन चार,", "पाँच छह;", "सात आठ नौ", "दस ग्यारह"]
    assert " ".join(pieces) == sentence
    word = "क" * 50
    assert "".join(split_to_fit(word, lambda s: len(s) <= 8)) == word


# --- input checks -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "  \n\t ", "\u200b\u200d\ufeff"])
def test_empty_texts_are_rejected(text):
    with pytest.raises(InvalidText) as raised:
        clean_article(text)
    assert raised.value.code == "empty_text"


@pytest.mark.parametrize(
    "text, lang, found",
    [("only English text", "hin_Deva", "mostly Latin script"), ("😀🎉", "hin_Deva", "no letters"),
     ("१२३ ।", "hin_Deva", "no letters"), ("भाजपा ने बैठक की।", "ben_Beng", "mostly Devanagari script"),
     ("ভারতীয় জনতা পার্টি", "urd_Arab", "mostly Bengali script"), ("ᱥᱟᱱᱛᱟᱲᱤ", "awa_Deva", "mostly Ol Chiki script")],
)  # fmt: skip
def test_a_named_language_needs_letters_of_its_script(text, lang, found):
    """The caller's source_lang is trusted, but its script is checked: a text without one letter of it is refused
    (422 unsupported_language, the old not_hindi and wrong_script), naming the script found instead."""
    with pytest.raises(UnsupportedLanguage) as raised:
        require_script(clean_article(text), lang, SAMPLE_CHARS)
    message = raised.value.message
    assert raised.value.code == "unsupported_language" and found in message and lang in message
    require_script("BJP ने Lok Sabha चुनाव जीता", "mar_Deva", SAMPLE_CHARS)  # code-mixed text passes


def test_code_mixed_text_and_markup():
    assert clean_article("BJP ने <b>Lok Sabha</b> चुनाव\x07 जीता") == "BJP ने  Lok Sabha  चुनाव जीता"
    assert clean_article("<p>पहला</p><p>दूसरा</p>").split() == ["पहला", "दूसरा"]
