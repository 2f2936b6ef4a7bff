"""What the service accepts as input text: some text, no control characters or markup."""

import unicodedata

import regex

from ..errors import InvalidText

# ISO 15924 codes of the FLORES language tags → Unicode script names.
SCRIPTS = {
    "Deva": "Devanagari", "Beng": "Bengali", "Guru": "Gurmukhi", "Gujr": "Gujarati", "Orya": "Oriya",
    "Knda": "Kannada", "Mlym": "Malayalam", "Taml": "Tamil", "Telu": "Telugu", "Arab": "Arabic", "Olck": "Ol_Chiki",
    "Mtei": "Meetei_Mayek",
}  # fmt: skip
_INVISIBLE = regex.compile(r"[\p{Cf}\s]+")  # whitespace and format characters (zero-width space, joiners, BOM)
# Characters no text needs (and lxml refuses): control characters but tab, newline and carriage return (C0, DEL, C1),
# lone surrogates, and the noncharacters (U+FDD0–U+FDEF and the last two code points of every plane, U+FFFE, U+FFFF).
_CONTROL = regex.compile(r"[[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]--[\t\n\r]]", flags=regex.V1)
_TAG = regex.compile(r"<\s*/?\s*[A-Za-z][^<>]{0,200}>")


def strip_controls(text: str) -> str:
    """The text without control characters (but tab, newline and CR), lone surrogates and noncharacters."""
    return _CONTROL.sub("", text)


def clean_article(text: str) -> str:
    """Normalize to NFC, drop control characters and HTML tags, and check some text is left. Which language (and so
    which script) it is in is ``language``'s to tell: detected, or checked against the one the caller named.

    HTML markup is stripped rather than rejected: CMS exports often carry <p> or <br> tags, and a tag can never be
    part of the news text itself.
    """
    text = strip_controls(unicodedata.normalize("NFC", text))
    text = _TAG.sub(lambda m: "\n" if m.group(0).lower().replace(" ", "") in ("<p>", "</p>", "<br>", "<br/>") else " ", text)
    if not _INVISIBLE.sub("", text):
        raise InvalidText("the text is empty or contains only whitespace", code="empty_text")
    return text.strip()
