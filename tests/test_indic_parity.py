"""Pre- and post-processing match IndicTransToolkit's processor (upstream's, pinned in the test extra) for every
source language, on the passages written for the tests: whole, and sentence by sentence as the service sends them.

Upstream numbers its placeholders in the order of a Python set (it changes from process to process), the service in
order of appearance: lines are compared with their placeholders renumbered by appearance, and each placeholder is
checked to stand for the same text by restoring it (both sides' post-processing) into the pre-processed line.
"""

import importlib.util
from pathlib import Path

import pytest
import regex

from service.text.indic_processing import FLORES_TO_ISO, TARGET_LANG, postprocess, preprocess
from service.text.splitting import split_sentences

from .indic_passages import PASSAGES


@pytest.fixture(scope="module")
def upstream():
    """The toolkit's compiled processor, loaded on its own: the package's __init__ also imports its data collator,
    which needs a transformers older than the one the service pins."""
    package = importlib.util.find_spec("IndicTransToolkit")
    assert package, "IndicTransToolkit is installed by the test extra"
    path = next(Path(package.origin).parent.glob("processor*.so"))
    spec = importlib.util.spec_from_file_location("processor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.IndicProcessor(inference=True)


def renumbered(line: str) -> str:
    """Placeholders numbered by first appearance (tokenized lines spell them "< ID1 >")."""
    order: dict[str, int] = {}
    return regex.sub(r"(?<=<\s?ID)\d+(?=\s?>)", lambda m: str(order.setdefault(m.group(), len(order) + 1)), line)


# What else news carries, around a sentence of each language: dates and number sequences (at the very start too),
# Indic and Arabic-Indic digits, ranges, percentages, handles, hashtags, brackets, quotes, dashes, no-break spaces.
AROUND = (
    "12 / 05 / 2024 , {} (2023-24 में) “१२,५००” ৩.৫% — ۱۲ 10 - 20 % ~5% #Budget2024 @pmo_india x@y.in.",
    "{} 3 : 30 : 15 12\u00a0500 10\u00a0% ‘क्या’\u00a0? 2\u00a0ºC 1 2 3 4 …",
)


def cases(code: str) -> list[str]:
    """The language's passages (Hindi's for the Devanagari languages upstream knows that the service does not
    detect), each of their sentences, and a sentence among other things news carries."""
    passages = PASSAGES.get(code, PASSAGES["hin_Deva"])
    first = split_sentences(passages[0], code)[0]
    return [piece for text in passages for piece in [text, *split_sentences(text, code)]] + [
        around.format(first) for around in AROUND
    ]


def test_every_source_language_is_covered():
    """The passages are in the 25 sources of IndicTrans2 (tests/test_language.py checks they are the served ones)."""
    assert len(PASSAGES) == 25 and set(PASSAGES) <= set(FLORES_TO_ISO)


@pytest.mark.parametrize("code", sorted(FLORES_TO_ISO))
def test_preprocess_matches_upstream(code, upstream):
    for text in cases(code):
        ours = preprocess(text, code)
        theirs = upstream.preprocess_batch([text], src_lang=code, tgt_lang=TARGET_LANG)[0]
        # The text behind each placeholder: restored into the line (upstream takes its map from its queue).
        restored = upstream.postprocess_batch([theirs.split(" ", 2)[2]], lang=TARGET_LANG)[0]
        assert renumbered(ours.text) == renumbered(theirs), text
        assert postprocess(ours.text.split(" ", 2)[2], ours.placeholders) == restored, text


@pytest.mark.parametrize("code", sorted(PASSAGES))
def test_postprocess_matches_upstream(code, upstream):
    """The model's English with its placeholders spelled the ways the model spells them back."""
    text = PASSAGES[code][0]
    ours = preprocess(text, code)
    upstream.preprocess_batch([text], src_lang=code, tgt_lang=TARGET_LANG)
    count = len(set(ours.placeholders.values()))
    assert count >= 2, "the first passage of each language carries a URL and an e-mail"
    spellings = ["<ID{}>", "< ID{} >", "[ID{}]", "<id{}>", "आईडी{}", "< آئی ڈی {} >"]
    decoded = " , ".join(f"see {spellings[i % len(spellings)].format(i + 1)}" for i in range(count))
    # Both number by their own order: restore upstream's by its map and ours by ours, then compare the entities.
    theirs = upstream.postprocess_batch([decoded], lang=TARGET_LANG)[0]
    assert sorted(postprocess(decoded, ours.placeholders).split(", ")) == sorted(theirs.split(", "))
