"""The checks room: findings for wrong figures, unknown names, lost URLs, untranslated text, loops, glossary terms
and model debris; none for faithful translations and summaries; every check linear in its input."""

import subprocess
import sys
import unicodedata

import pytest

from service.checks import drop_unsupported, run_checks
from service.checks.figures import HINDI_CARDINALS, NUMBER, figures
from service.checks.glossary import Glossary
from service.checks.names import SourceNames, candidates, check_names, lower_case_words
from service.checks.surface import check_untranslated, entities, loops, masked

from .check_pairs import CORRECT, INJECTED, checks_input, injected_input
from .conftest import ROOT, SEED_TEXT
from .test_linear_text import FAMILIES, assert_linear

# --- the pairs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORRECT)
def test_a_faithful_pair_needs_no_review(name):
    report = run_checks(**checks_input(name))
    assert report.as_dict() == {"checks": [], "review": "ok"}


def _text_at(arguments: dict, where: str) -> str:
    if where == "translation":
        return arguments["translation"] if "translation" in arguments else "\n".join(arguments["paragraphs"])
    if where.startswith("translation.paragraphs["):
        return arguments["paragraphs"][int(where[len("translation.paragraphs[") : -1])]
    return arguments["summary"][where.split(".")[1]]


@pytest.mark.parametrize("case", INJECTED, ids=lambda case: f"{case[0]}: {case[4]} in {case[1]}")
def test_an_injected_error_is_found_where_it_is(case):
    name, field, old, new, check, where = case
    arguments = injected_input(name, field, old, new)
    report = run_checks(**arguments)
    assert report.review == "needs_review"
    found = [f for f in report.findings if f.check == check and f.where == where]
    assert found, report.findings
    text = _text_at(arguments, where)
    for finding in found:
        start, end = finding.span
        assert 0 <= start <= end <= len(text)
        if new and check not in ("glossary", "empty") and end - start < len(text):
            assert text[start:end] == finding.text  # the span is the wrong figure, name, URL, word


def test_the_seed_article_and_its_translation_need_no_review():
    # a long article with names, party acronyms, dates, repeated figures and Hindi written with full stops
    translation = (ROOT / "seeds" / "seed_article_en.txt").read_text(encoding="utf-8")
    assert run_checks(SEED_TEXT, translation=translation).as_dict() == {"checks": [], "review": "ok"}
    wrong = translation.replace("18 seats", "28 seats").replace("Kavita Patidar", "Kavita Pandey")
    assert {(f.check, f.text) for f in run_checks(SEED_TEXT, translation=wrong).findings} == {("number", "28"),
                                                                                              ("name", "Pandey")}


def test_at_least_twenty_pairs_of_each_kind():
    assert len(CORRECT) >= 20 and len(INJECTED) >= 20
    assert {case[4] for case in INJECTED} >= {"number", "name", "placeholder", "untranslated", "repetition",
                                               "glossary", "artifact", "empty"}  # fmt: skip


def test_a_finding_has_the_documented_shape():
    report = run_checks("पांच लोग घायल हुए।", translation="Six people were injured.")
    (finding,) = report.as_dict()["checks"]
    assert finding == {"check": "number", "severity": "error", "where": "translation", "span": [0, 3], "text": "Six",
                       "detail": "'Six' (6) is not in the source; the source has 'पांच' (5)"}  # fmt: skip
    assert report.as_dict()["review"] == "needs_review"


# --- number ----------------------------------------------------------------------------------------------------------
def values(text: str, soft: bool = False) -> set:
    """The numbers of a text's figures (with ``soft``, also of those a translation may leave out)."""
    return {k for f in figures(text) if soft or not f.soft for k in f.keys if isinstance(k, NUMBER)}


@pytest.mark.parametrize("same", [
    ("2.5 लाख", "2.5 lakh", "250,000", "2,50,000", "ढाई लाख", "two and a half lakh", "0.25 million"),
    ("3 करोड़", "3 crore", "30 million", "तीन करोड़", "3,00,00,000", "30,000,000"),
    ("1,450", "1450", "१,४५०", "१४५०", "1.45 thousand"),
    ("1,45,000", "145,000", "1.45 लाख", "1.45 lakh", "एक लाख पैंतालीस हजार"),
    ("5", "पांच", "पाँच", "five", "Five", "५"),
    ("2 हजार 425", "2,425", "two thousand four hundred and twenty-five"),
    ("1.2 अरब", "1.2 billion", "120 करोड़", "1,200 million"),
    ("5 हजार करोड़", "50 billion", "5,000 crore"),
    ("साढ़े तीन लाख", "3.5 lakh", "three and a half lakh", "350,000"),
    ("सवा सौ", "125", "one hundred and twenty-five"),
    ("पौने दो लाख", "1.75 lakh", "175,000"),
    ("21वीं", "21st", "twenty-first"),
    ("तीसरी", "third", "3rd"),
    ("दो दर्जन", "two dozen", "24"),
])  # fmt: skip
def test_figures_are_compared_as_values(same):
    expected = values(same[0])
    assert len(expected) == 1
    for text in same[1:]:
        assert values(text) == expected, text


def test_percentages_dates_times_and_weekdays_are_figures():
    assert values("64 प्रतिशत") == values("64 percent") == values("64%") == values("64 per cent") == {64}
    date = {k for f in figures("15 अगस्त") for k in f.keys}
    assert date == {k for f in figures("August 15") for k in f.keys} == {k for f in figures("15th of August") for k
                                                                         in f.keys}  # fmt: skip
    assert ("month", 8) in date
    clock = {k for f in figures("10:30 बजे") for k in f.keys}
    assert clock & {k for f in figures("10.30 am") for k in f.keys} & {k for f in figures("साढ़े दस बजे") for k in
                                                                          f.keys}  # fmt: skip
    assert ("time", 11, 15) in {k for f in figures("ग्यारह बजकर 15 मिनट") for k in f.keys}
    assert {k for f in figures("सोमवार") for k in f.keys} == {k for f in figures("Monday") for k in f.keys}


def test_every_hindi_number_to_a_hundred_has_a_word():
    by_value = {}
    for n, entry in enumerate(HINDI_CARDINALS):
        for word in entry.split("/"):
            by_value.setdefault(n, []).append(word)
            assert values(word, soft=True) == {n}, word  # एक ("a" as often as "one") and सौ alone are soft
    assert sorted(by_value) == list(range(101))
    spellings = [("सैंतालीस", 47), ("उनहत्तर", 69), ("निन्यानवे", 99), ("अड़तीस", 38), ("अडतीस", 38), ("छः", 6)]
    for word, n in spellings:
        assert values(word) == {n}


def test_digits_of_every_indic_script_are_read():
    for zero in (0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66):
        digits = "".join(chr(zero + d) for d in (1, 4, 5, 0))
        assert unicodedata.digit(digits[0]) == 1
        assert values(digits) == {1450}, unicodedata.name(digits[0])


def test_words_that_are_numbers_only_sometimes_are_never_reported():
    # एक is "a", पहले "before", दोनों "both", मार्च a protest march: their translations need not have a figure
    report = run_checks("एक व्यक्ति ने पहले दोनों नेताओं के खिलाफ मार्च निकाला।",
                        translation="A man had earlier taken out a march against the leaders.")  # fmt: skip
    assert report.review == "ok"
    # but they support a figure written out
    assert run_checks("एक व्यक्ति घायल हुआ।", translation="1 person was injured.").review == "ok"


def test_a_range_written_with_one_unit_matches_both_ends_written_out():
    report = run_checks("इससे 2 से 3 लाख लोगों को फायदा होगा।", translation="It benefits 200,000 to 300,000 people.")
    assert report.review == "ok"


def test_a_missing_figure_is_reported_on_the_whole_output():
    report = run_checks("हादसे में 12 लोग घायल हुए।", translation="People were injured in the accident.")
    (finding,) = report.findings
    assert (finding.check, finding.span, finding.text) == ("number", (0, 36), "12")


def test_a_summary_figure_must_be_the_articles():
    source = "राज्य में 1,450 नए मामले आए।"
    ok = run_checks(source, translation="1,450 new cases came in the state.", summary={"en": "1,450 new cases."})
    assert ok.review == "ok"
    wrong = run_checks(source, summary={"hi": "1,540 नए मामले।", "en": "Cases rose by 14%."})
    assert [(f.where, f.text) for f in wrong.findings] == [("summary.hi", "1,540"), ("summary.en", "14")]


def test_figures_inside_urls_and_emails_are_left_to_the_placeholder_check():
    url = "https://x.gov.in/2024/scheme?id=77"
    report = run_checks(f"देखें {url}", translation=f"See {url}")
    assert report.review == "ok"


# --- name ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("english, hindi", [
    ("Narendra Modi", "नरेंद्र मोदी"), ("Lucknow", "लखनऊ"), ("Kailash Vijayvargiya", "कैलाश विजयवर्गीय"),
    ("Rakesh Singh", "राकेश सिंह"), ("Amit Shah", "अमित शाह"), ("Celsius", "सेल्सियस"), ("Jaishankar", "जयशंकर"),
    ("Lok Sabha", "लोकसभा"), ("New York", "न्यूयॉर्क"), ("Chhattisgarh", "छत्तीसगढ़"), ("Gyanvapi", "ज्ञानवापी"),
    ("Mumbai", "मुंबई"), ("Abdullah", "अब्दुल्ला"), ("Zelensky", "ज़ेलेंस्की"), ("Ukraine", "यूक्रेन"),
    ("Washington", "वॉशिंगटन"), ("Scindia", "सिंधिया"), ("Dhankhar", "धनखड़"),
    # acronyms: as a word, spelled out in Hindi letters, as initials
    ("ISRO", "इसरो"), ("BJP", "भाजपा"), ("BJP", "बीजेपी"), ("UP", "उत्तर प्रदेश"), ("AAP", "आम आदमी पार्टी"),
    # demonyms and exonyms
    ("Pakistani", "पाकिस्तान"), ("Russians", "रूस"), ("India", "भारत"), ("Indian", "भारतीय"), ("Egypt", "मिस्र"),
    ("Chinese", "चीन"),
])  # fmt: skip
def test_a_name_matches_its_hindi_spelling(english, hindi):
    sentence = f"He met {english} today."
    assert check_names(SourceNames(f"वह आज {hindi} से मिले।"), sentence, "translation", "warning", "the source") == []


@pytest.mark.parametrize("english, hindi, unknown", [
    ("Sonia Gandhi", "राहुल गांधी", "Sonia"), ("Kanpur", "लखनऊ", "Kanpur"), ("Amit Shah", "अजय शाह", "Amit"),
    ("RJD", "जदयू", "RJD"), ("Virat Kohli", "रोहित शर्मा", "Virat Kohli"),
])  # fmt: skip
def test_another_name_is_not_taken_for_it(english, hindi, unknown):
    found = check_names(SourceNames(f"वह आज {hindi} से मिले।"), f"He met {english} today.", "translation", "warning",
                        "the source")  # fmt: skip
    assert [f.text for f in found] == [unknown]


def test_titles_institutions_weekdays_months_and_common_words_are_no_names():
    text = ("Police said on Monday that the Chief Minister, the Election Commission and the Supreme Court "
            "met in March. Devotees, Villagers and Farmers gathered; Meanwhile the Enforcement Directorate, the "
            "Meteorological Department and the Indian Embassy said so. According to sources, Wednesday "
            "it is.")  # fmt: skip
    names = candidates(text, lower_case_words(text))
    assert names == []


def test_an_ordinary_noun_opening_a_sentence_is_no_name():
    """Cyclone, Astronomer: below the common-word bar, but at the head of a sentence a fairly common English word is
    an ordinary noun; the same word inside a sentence, and a name at the head of one, are still candidates."""
    text = ("Cyclone-hit districts saw heavy rain. Astronomer Dr Amitabh Pandey said so. “Landslide warnings stay,” "
            "officials said.")  # fmt: skip
    names = [[w for *_, w, is_name in run if is_name] for run in candidates(text, lower_case_words(text))]
    assert names == [["Amitabh", "Pandey"]]
    inside = [w for run in candidates("The Cyclone Relief Fund met.", set()) for *_, w, is_name in run if is_name]
    assert inside == ["Cyclone"]
    assert candidates("Amitabh Pandey said so.", set())


def test_a_summary_name_may_come_from_the_translation():
    source = "प्रधानमंत्री ने आज वाराणसी का दौरा किया।"
    translation = "PM Narendra Modi visited Varanasi today."  # the name is the translator's addition
    report = run_checks(source, translation=translation, summary={"en": "Narendra Modi visited Varanasi."})
    assert [f.where for f in report.findings] == ["translation"]  # the translation's name is flagged, once


def test_code_mixed_sources_support_their_latin_words():
    report = run_checks("Madhya Pradesh News: बीजेपी की बैठक", translation="Madhya Pradesh News: BJP meeting")
    assert report.review == "ok"


# --- placeholder, untranslated, artifact, empty, length ------------------------------------------------------------
def test_entities_are_the_services_own_placeholders():
    text = "लिखें press@bjp.org, देखें https://www.bjp.org/hi/news?id=370 या bjp.org, #Election2024 @narendramodi 12.5%"
    assert [text[a:b] for a, b in entities(text)] == [
        "press@bjp.org", "https://www.bjp.org/hi/news?id=370", "bjp.org", "#Election2024", "@narendramodi"]  # fmt: skip


def test_a_changed_or_lost_entity_and_an_unrestored_placeholder_are_found():
    source = "संपर्क: info@upgov.in, #UPBudget, @myogioffice"
    report = run_checks(source, translation="Contact: info@up.gov.in, #UPBudget, <ID3>")
    assert [(f.check, f.text) for f in report.findings] == [
        ("placeholder", "info@up.gov.in"), ("placeholder", "@myogioffice"), ("placeholder", "<ID3>")]  # fmt: skip
    assert "the source has 'info@upgov.in'" in report.findings[0].detail


def test_source_script_left_in_english_is_found_whole():
    found = check_untranslated(masked("He said that सरकार जल्द फैसला लेगी and left."), "summary.en")
    assert [(f.text, f.where) for f in found] == [("सरकार जल्द फैसला लेगी", "summary.en")]
    assert check_untranslated(masked("Tags: #चुनाव2024 stayed as they were."), "translation") == []  # kept on purpose


def test_model_debris_and_empty_or_truncated_outputs():
    source = "प्रधानमंत्री ने आज कहा कि देश में 80 करोड़ लोगों को मुफ्त राशन मिलता रहेगा और योजना पांच साल बढ़ेगी।"
    translation = "The Prime Minister said today that 80 crore people in the country will continue to get free ration"
    full = translation + " and the scheme will be extended for five years."
    assert run_checks(source, translation=full).review == "ok"
    checks = {f.check for f in run_checks(source, translation=full.replace("free", "free <unk> \ufffd")).findings}
    assert checks == {"artifact"}
    assert [f.check for f in run_checks(source, translation=" ").findings] == ["empty"]
    assert [f.check for f in run_checks(source, summary={"hi": ""}).findings] == ["empty"]
    short = run_checks(source, translation="The PM said.").findings
    assert {f.check for f in short} == {"number", "length"}


# --- repetition ------------------------------------------------------------------------------------------------------
def test_loops_of_a_word_or_a_phrase():
    assert loops("the the the end") == [(0, 11, 3)]
    text = "of the people of the people of the people and"
    assert loops(text) == [(0, len(text) - 4, 3)]
    text = "the state government said that the state government said that it will"
    assert loops(text) == [(0, text.index(" it will"), 2)]
    assert loops("very very good, bye bye, of the people, by the people") == []  # speech, not loops


def test_a_loop_the_source_has_itself_is_not_reported():
    source = "जय हो, जय हो, जय हो! नारे लगे।"
    assert run_checks(source, translation="Jai Ho, Jai Ho, Jai Ho! Slogans were raised.").review == "ok"


def test_a_summary_that_says_a_sentence_twice():
    source = "बाढ़ से 20 लाख लोग प्रभावित हुए हैं। राहत कार्य जारी है।"
    summary = "बाढ़ से 20 लाख लोग प्रभावित हुए। राहत कार्य जारी है। बाढ़ से 20 लाख लोग प्रभावित हुए।"
    (finding,) = run_checks(source, summary={"hi": summary}).findings
    assert (finding.check, finding.severity, finding.where, finding.span) == ("repetition", "warning", "summary.hi",
                                                                              (0, 32))  # fmt: skip
    back_to_back = "बाढ़ से 20 लाख लोग प्रभावित हुए। बाढ़ से 20 लाख लोग प्रभावित हुए।"
    (finding,) = run_checks(source, summary={"hi": back_to_back}).findings  # a loop, reported once
    assert (finding.check, finding.severity) == ("repetition", "error")


# --- glossary --------------------------------------------------------------------------------------------------------
def test_glossary_terms_longest_first_on_devanagari_word_boundaries():
    glossary = Glossary([("भारत", "Bharat"), ("भारतीय जनता पार्टी", "BJP"), ("पार्टी", "party"), ("विधायक", "MLA")])
    text = "भारतीय जनता पार्टी के विधायक भारतीय हैं और भारत में रहते हैं"
    assert glossary.terms_in(text) == {"BJP": "भारतीय जनता पार्टी", "MLA": "विधायक", "Bharat": "भारत"}
    assert glossary.terms_in("भारतीय टीम") == {}  # भारत is not a word of भारतीय


def test_a_glossary_target_missing_from_the_translation_or_the_english_summary():
    source = "भाजपा विधायकों की बैठक हुई। विधायक राजेश वर्मा ने कहा।"
    entries = [("विधायक", "MLA"), ("भाजपा", "BJP")]
    assert run_checks(source, translation="BJP MLAs met. MLA Rajesh Verma said.", glossary=entries).review == "ok"
    report = run_checks(source, translation="BJP legislators met. Legislator Rajesh Verma said.", glossary=entries)
    assert [(f.check, f.text) for f in report.findings] == [("glossary", "MLA")]
    as_api = [{"source": term, "target": target} for term, target in entries]
    report = run_checks(source, summary={"hi": "भाजपा विधायक मिले।", "en": "Legislators met."}, glossary=as_api)
    assert [(f.check, f.where, f.text) for f in report.findings] == [("glossary", "summary.en", "BJP"),
                                                                     ("glossary", "summary.en", "MLA")]  # fmt: skip


# --- paragraphs and drop ----------------------------------------------------------------------------------------------
def test_findings_name_the_paragraph_and_its_offsets():
    source = "पहला पैराग्राफ 5 लोगों के बारे में है।\nदूसरे में 7 लोग हैं।"
    paragraphs = ["The first paragraph is about 5 people.", "The second has 8 people."]
    (finding,) = run_checks(source, paragraphs=paragraphs).findings
    assert (finding.where, finding.span) == ("translation.paragraphs[1]", (15, 16))
    (finding,) = run_checks(source, translation="\n".join(paragraphs)).findings
    assert (finding.where, finding.span) == ("translation", (54, 55))


def test_drop_removes_the_sentences_with_unsupported_figures_and_names():
    source = "मुख्यमंत्री नीतीश कुमार ने पटना में 12 जिलों का दौरा किया।"
    summary = "Nitish Kumar visited 12 districts. Lalu Yadav visited 15 more. Floods hit Patna."
    report = run_checks(source, summary={"en": summary})
    assert {(f.check, f.text) for f in report.findings} == {("name", "Lalu Yadav"), ("number", "15")}
    text, findings = drop_unsupported(summary, report.findings, "summary.en")
    assert text == "Nitish Kumar visited 12 districts. Floods hit Patna."
    for finding in findings:
        assert finding.span == (35, 35) and "removed the sentence: «Lalu Yadav visited 15 more.»" in finding.detail
    assert run_checks(source, summary={"en": text}).review == "ok"


def test_drop_of_the_last_sentences():
    source = "नीतीश कुमार ने 12 जिलों का दौरा किया।"
    summary = "Nitish Kumar visited 12 districts. Lalu Yadav came. He saw 15 villages."
    text, findings = drop_unsupported(summary, run_checks(source, summary={"en": summary}).findings, "summary.en")
    assert text == "Nitish Kumar visited 12 districts."
    assert {f.span for f in findings} == {(34, 34)}


def test_drop_keeps_other_findings_in_place():
    source = "नीतीश कुमार ने 12 जिलों का दौरा किया।"
    summary = "Lalu Yadav came. Nitish Kumar visited 12 districts <unk>."
    report = run_checks(source, summary={"en": summary})
    text, findings = drop_unsupported(summary, report.findings, "summary.en")
    (artifact,) = [f for f in findings if f.check == "artifact"]
    assert text[artifact.span[0] : artifact.span[1]] == "<unk>"
    assert drop_unsupported(summary, [], "summary.en") == (summary, [])


# --- the room ---------------------------------------------------------------------------------------------------------
def test_the_checks_never_import_torch():
    code = "import sys, service.checks; service.checks.run_checks('क', translation='a'); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- linear time -----------------------------------------------------------------------------------------------------
CHECK_FAMILIES = {
    **FAMILIES,
    "number words": lambda n: ("दो लाख पचास हजार " * (n // 17 + 1))[:n],
    "english number words": lambda n: ("two hundred and twenty-five thousand " * (n // 37 + 1))[:n],
    "ranges and units": lambda n: ("2-3 lakh 4 से 5 करोड़ " * (n // 21 + 1))[:n],
    "dates and clocks": lambda n: ("15 अगस्त 10:30 बजे August 15, 2024 " * (n // 35 + 1))[:n],
    "capitalized words": lambda n: ("Abcd Efgh " * (n // 10 + 1))[:n],
    "acronyms": lambda n: ("BJP ISRO " * (n // 9 + 1))[:n],
    "one long capitalized word": lambda n: "A" + "b" * (n - 1),
    "phrase loop": lambda n: ("of the people " * (n // 14 + 1))[:n],
    "near loops": lambda n: " ".join(str(i % 7) for i in range(n))[:n],
}
CHECKS = {
    "run_checks (translation)": lambda text: run_checks(text, translation=text, glossary=[("दो", "two"), ("a", "b")]),
    "run_checks (summary)": lambda text: run_checks("क " + text, translation=text, summary={"hi": text, "en": text},
                                                    glossary=[("दो लाख", "200,000")]),  # fmt: skip
    "drop_unsupported": lambda text: drop_unsupported(text, run_checks("क", summary={"en": text}).findings),
}


@pytest.fixture(scope="module", autouse=True)
def warm():
    run_checks("क", translation="Warm Up")  # loads the English word counts once (about a second)


@pytest.mark.parametrize("family", CHECK_FAMILIES)
def test_every_check_is_linear(family):
    # 20 000 characters is the article limit; the bound is generous for a busy 2-core machine.
    for name, function in CHECKS.items():
        assert_linear(name, function, family, 20_000, 8.0, make=CHECK_FAMILIES[family])


def test_other_editions_are_checked_under_their_own_summary_key():
    """A Bengali article: its figures checked as anywhere, the Bengali summary's findings under summary.bn; the name
    check (Hindi's romanizer) leaves the translation alone and looks up the summary's names in the translation."""
    source = "কলকাতায় আজ ৫ জন আহত হয়েছেন। মুখ্যমন্ত্রী হাসপাতালে যান।"
    translation = "Five people were injured in Kolkata today. The Chief Minister went to the hospital."
    report = run_checks(source, translation=translation,
                        summary={"bn": "কলকাতায় ৭ জন আহত।", "en": "Seven injured in Kolkata, says Mamata."},
                        lang="ben_Beng")  # fmt: skip
    found = {(f.check, f.where, f.text) for f in report.findings}
    assert found == {("number", "summary.bn", "৭"), ("number", "summary.en", "Seven"), ("name", "summary.en", "Mamata")}
    correct = run_checks(source, translation=translation, summary={"bn": "কলকাতায় ৫ জন আহত।", "en": "Five injured in Kolkata."},
                         lang="ben_Beng")  # fmt: skip
    assert correct.review == "ok", correct.findings
