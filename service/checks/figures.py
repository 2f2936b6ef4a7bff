"""The figures of a Hindi or English text as values: digits of any script, grouped the Indian or the Western way,
decimals, number words of both languages, Indian and Western units (lakh, crore, million), Hindi fractions (डेढ़,
ढाई, साढ़े, सवा, पौने), ordinals, clock times, the months of dates and weekdays.

Each figure carries a set of *keys*; two figures agree when their keys meet: ``2.5 लाख``, ``2.5 lakh`` and
``250,000`` all have the key 250000; ``10:30 बजे`` and ``10.30 am`` share the time key; ``2 से 3 लाख`` gives its 2
the key 200000 as well. A *soft* figure (एक / one, which are also "a"; पहले / first, also "before"; a month named
without a day or year) is one a faithful translation may drop or reword: it supports a figure on the other side
but is never reported missing or unsupported itself.
"""

from dataclasses import dataclass, field
from fractions import Fraction

import unicodedata

import regex

from ..text.patterns import compile_linear
from .tokens import Token, fold, tokens

# --- the words --------------------------------------------------------------------------------------------------------
# Hindi cardinals 0–100. Hindi's are irregular (no tens + unit rule): every number has its own word. Variants of
# one number are separated by "/"; nukta and candrabindu variants need no entry (see ``fold``).
HINDI_CARDINALS = """
शून्य एक दो तीन चार पांच छह/छः/छ सात आठ नौ दस
ग्यारह बारह तेरह चौदह पंद्रह/पन्द्रह सोलह सत्रह अठारह उन्नीस बीस
इक्कीस बाईस तेईस/तेइस चौबीस पच्चीस छब्बीस सत्ताईस/सताईस अट्ठाईस/अठाईस उनतीस/उन्तीस तीस
इकतीस/इकत्तीस बत्तीस तैंतीस/तेंतीस/तेतीस चौंतीस/चौतीस पैंतीस छत्तीस सैंतीस अड़तीस उनतालीस/उन्तालीस/उंतालीस चालीस
इकतालीस/इकतालिस बयालीस तैंतालीस/तेंतालीस चवालीस/चौवालीस/चौंवालीस पैंतालीस छियालीस सैंतालीस अड़तालीस उनचास पचास
इक्यावन बावन तिरपन/तिरेपन चौवन/चव्वन पचपन छप्पन सत्तावन अट्ठावन/अठावन उनसठ साठ
इकसठ बासठ तिरसठ/तिरेसठ चौंसठ पैंसठ छियासठ सड़सठ/सरसठ अड़सठ उनहत्तर सत्तर
इकहत्तर बहत्तर तिहत्तर चौहत्तर पचहत्तर छिहत्तर सतहत्तर अठहत्तर उन्यासी/उनासी अस्सी
इक्यासी बयासी तिरासी चौरासी पचासी छियासी सत्तासी अट्ठासी/अठासी नवासी नब्बे
इक्यानवे/इक्यानबे बानवे/बानबे तिरानवे/तिरानबे चौरानवे/चौरानबे पचानवे/पंचानवे/पचानबे छियानवे/छियानबे सत्तानवे/सत्तानबे
अट्ठानवे/अट्ठानबे/अठानवे निन्यानवे/निन्यानबे सौ
""".split()
ENGLISH_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                 "sixteen seventeen eighteen nineteen").split()  # fmt: skip
ENGLISH_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
ENGLISH_ORDINALS = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
                    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()  # fmt: skip
ENGLISH_TENTHS = "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split()
HINDI_ORDINAL_SUFFIXES = ("वां", "वीं", "वें", "वा", "वी", "वे")
HINDI_ORDINALS = {"पहला": 1, "पहली": 1, "पहले": 1, "दूसरा": 2, "दूसरी": 2, "दूसरे": 2, "तीसरा": 3, "तीसरी": 3,
                  "तीसरे": 3, "चौथा": 4, "चौथी": 4, "चौथे": 4, "छठा": 6, "छठी": 6, "छठे": 6}  # fmt: skip
# Words that are numbers only sometimes: एक and one are also "a", पहले also "before", दूसरे also "other", second also
# a unit of time; दोनों is "both" and तीनों "all three"; twice is as often "twice as many".
SOFT_WORDS = {"एक", "one", "once", "twice", "thrice", "first", "second", "पहला", "पहली", "पहले", "दूसरा", "दूसरी",
              "दूसरे"}  # fmt: skip
SCALES = {"सौ": 100, "हजार": 1000, "लाख": 10**5, "करोड": 10**7, "अरब": 10**9, "खरब": 10**11, "दर्जन": 12,
          "मिलियन": 10**6, "बिलियन": 10**9, "ट्रिलियन": 10**12,  # English units in Hindi letters (60 मिलियन व्यूज)
          "hundred": 100, "thousand": 1000, "lakh": 10**5, "lac": 10**5, "crore": 10**7, "cr": 10**7,
          "million": 10**6, "mn": 10**6, "billion": 10**9, "bn": 10**9, "trillion": 10**12, "dozen": 12,
          # plural forms count only after a number ("5 lakhs"); alone they are "lakhs of people"
          "lakhs": 10**5, "lacs": 10**5, "crores": 10**7}  # fmt: skip
PLURAL_SCALES = {"lakhs", "lacs", "crores"}
HINDI_FRACTIONS = {"डेढ": Fraction(3, 2), "ढाई": Fraction(5, 2)}
# साढ़े तीन = 3.5, सवा दो = 2.25, पौने दो = 1.75 (and साढ़े 10 बजे = 10:30).
HINDI_FRACTION_PREFIXES = {"साढे": Fraction(1, 2), "सवा": Fraction(1, 4), "पौने": Fraction(-1, 4)}
ORDINAL_SUFFIXES = {"st", "nd", "rd", "th", *HINDI_ORDINAL_SUFFIXES}
HINDI_MONTHS = ("जनवरी फरवरी मार्च अप्रैल/अप्रेल मई जून जुलाई अगस्त सितंबर/सितम्बर अक्टूबर/अक्तूबर नवंबर/नवम्बर "
                "दिसंबर/दिसम्बर").split()  # fmt: skip
ENGLISH_MONTHS = "January February March April May June July August September October November December".split()
ENGLISH_MONTH_ABBREVIATIONS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
HINDI_WEEKDAYS = "सोमवार मंगलवार बुधवार गुरुवार/बृहस्पतिवार/वीरवार शुक्रवार शनिवार रविवार/इतवार".split()
ENGLISH_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def _variants(entries):
    """``["छह/छः", …]`` → {each variant folded: its index}."""
    return {fold(variant): i for i, entry in enumerate(entries) for variant in entry.split("/")}


def _number_words() -> dict[str, int]:
    words = {word: n for word, n in _variants(HINDI_CARDINALS).items() if n < 100}  # सौ is a scale
    words |= {word + "ों": n for word, n in words.items() if n > 1}  # तीनों, चारों: "all three", "all four"
    words |= {"दोनों": 2}
    words |= {word + suffix: n for word, n in _variants(HINDI_CARDINALS).items() if n >= 5
              for suffix in HINDI_ORDINAL_SUFFIXES}  # fmt: skip
    words |= {"नवां": 9, "नवीं": 9, "नवें": 9, "छठवां": 6, "छठवीं": 6, "छठवें": 6} | HINDI_ORDINALS
    words |= {word: n for n, word in enumerate(ENGLISH_UNITS)} | {word: n for n, word in enumerate(ENGLISH_ORDINALS)}
    words |= {word: 20 + 10 * i for i, word in enumerate(ENGLISH_TENS)}
    words |= {word: 20 + 10 * i for i, word in enumerate(ENGLISH_TENTHS)}
    return words | {"hundredth": 100, "once": 1, "twice": 2, "thrice": 3, "जीरो": 0}  # ग्राउंड जीरो: ground zero


NUMBER_WORDS = _number_words()
SOFT_KEYS = {fold(w) for w in SOFT_WORDS} | {w for w in NUMBER_WORDS if w.endswith("ों")}
MONTHS = {word: i + 1 for word, i in _variants(HINDI_MONTHS).items()}
MONTHS |= {word: i + 1 for i, word in enumerate(ENGLISH_MONTHS)}
MONTHS |= {word: i + 1 for i, word in enumerate(ENGLISH_MONTH_ABBREVIATIONS)} | {"Sept": 9}
WEEKDAYS = {word: i + 1 for word, i in _variants(HINDI_WEEKDAYS).items()}
WEEKDAYS |= {word: i + 1 for i, word in enumerate(ENGLISH_WEEKDAYS)}

# A clock word right after a number: the number is an hour (10.30 am is 10:30, not 10.3).
_CLOCK = regex.compile(r"\s*+(?:बजे|बज\b|बजकर|[ap]\.?\s?m\b|hrs\b|hours\b|o'clock)", regex.IGNORECASE)
_CLOCK_WINDOW = 12
# What may stand between the two ends of a range whose unit is written once: 2 से 3 लाख, 2-3 lakh, 2 or 3 crore.
_RANGE = regex.compile(r"\s*+(?:-|–|—|to|से|or|या|and|और|व)\s*+")
# Between a day and its month (15 August, 15th of August, 15-अगस्त); between a month and its day or year (August 15,
# Aug. 15, मई 2024). Not a comma: "In May, 15 people" is no date.
_DAY_MONTH_GAP = regex.compile(r"(?:st|nd|rd|th|वां|वीं|वें|वा|वी|वे)?[\s\-/]*+(?:of\s++)?")
_MONTH_DAY_GAP = regex.compile(r"\.?[\s\-/]*+")
_DIGIT_RUN = compile_linear("[0-9]+")
_LARGEST = 10**15  # no figure of the news is larger: units multiply no further (करोड़ करोड़ करोड़ …)
_MAX_DIGITS = 30  # a longer run of digits is compared as a string (int() of a huge string is slow, and no figure)


# --- figures ----------------------------------------------------------------------------------------------------------
NUMBER = (int, Fraction)  # what a figure's value is when it is a number


def _hashable(value):
    """A whole Fraction as an int: equal and of the same hash, and hashed without Fraction's slow modular arithmetic."""
    return int(value) if isinstance(value, Fraction) and value.denominator == 1 else value


@dataclass
class Figure:
    start: int
    end: int
    text: str
    value: object  # a number (int or Fraction); a tuple for a month, weekday or time; a string for absurd digits
    soft: bool = False
    kind: str = "figure"  # "figure", "time", "month", "weekday"
    scale: int = 1  # the largest unit written (for ranges whose unit is written once)
    keys: set = field(default_factory=set)

    def __post_init__(self):
        self.value = _hashable(self.value)
        self.keys.add(self.value)

    def describe(self) -> str:
        value = self.value
        if not isinstance(value, NUMBER) or self.text.replace(",", "") == str(value):
            return f"'{self.text}'"
        shown = f"{value.numerator:,}" if value.denominator == 1 else f"{float(value):,.10g}"
        return f"'{self.text}' ({shown})"


def _ascii_digits(text: str) -> str:
    """Digits of any script as ASCII digits (one for one: offsets do not move); separators kept."""
    return "".join(c if c in ".,:" else str(unicodedata.digit(c)) for c in text)


def _number(integer: str, fraction: str = ""):
    """A number from ASCII digit strings: an exact Fraction, or for an absurdly long run the digits themselves."""
    if len(integer) + len(fraction) > _MAX_DIGITS:
        return "digits:" + integer + "." + fraction
    value = Fraction(int(integer))
    return value + Fraction(int(fraction), 10 ** len(fraction)) if fraction else value


def _time_key(hour: int, minute: int) -> tuple:
    return ("time", hour % 12, minute)  # 22:30 and 10:30 pm are one time


def _grouped(integer: str) -> str | None:
    """``1,45,000`` or ``145,000`` → ``145000``; None when the commas do not group digits (``1,2,3`` is a list)."""
    groups = integer.split(",")
    if len(groups) == 1:
        return integer
    if 1 <= len(groups[0]) <= 3 and all(len(g) in (2, 3) for g in groups[1:]) and len(groups[-1]) == 3:
        return "".join(groups)
    return None


def _digit_figures(token: Token, clock: bool) -> list[Figure]:
    """The figures of one run of digits and separators: one number, a time, or several numbers (a list, a date)."""
    raw, start = token.text, token.start
    text = _ascii_digits(raw)
    hour, colon, minute = text.partition(":")
    if colon and minute.isdigit() and len(minute) == 2 and hour.isdigit() and len(hour) <= 2:
        if int(hour) <= 24 and int(minute) <= 59:
            figure = Figure(start, token.end, raw, _time_key(int(hour), int(minute)), kind="time")
            if int(minute) == 0:
                figure.keys.add(int(hour))  # 10:00 is 10 (बजे, am)
            return [figure]
    integer, dot, fraction = text.partition(".")
    grouped = None if colon or "." in fraction else _grouped(integer)
    if grouped is None:  # a list, a date (15.08.2024), a score: each run of digits is a number
        return [Figure(start + m.start(), start + m.end(), raw[m.start() : m.end()], _number(m.group()))
                for m in _DIGIT_RUN.finditer(text)]  # fmt: skip
    figure = Figure(start, token.end, raw, _number(grouped, fraction))
    if clock and len(fraction) == 2 and int(fraction) <= 59 and len(grouped) <= 2:
        figure.kind = "time"  # 10.30 am is half past ten
        figure.keys.add(_time_key(int(grouped), int(fraction)))
    return [figure]


class _Group:
    """A number written in several words: ``दो लाख पचास हजार``, ``two hundred and fifty``, ``साढ़े 3 करोड़``."""

    def __init__(self, start: int, end: int, soft: bool = False, prefix: Fraction = Fraction(0)):
        self.start, self.end = start, end
        self.total = Fraction(0)  # the parts already multiplied by a unit of a thousand or more
        self.current: Fraction | None = None  # the part being written
        self.last_scale: int | None = None
        self.hundred = self.tens = False  # a following unit adds: "two hundred five", "twenty-five"
        self.soft = soft
        self.prefix = prefix
        self.scale = 1
        self.current_start = self.unit_end = start

    def settle(self):
        """Apply a pending fraction prefix to the number before a unit (साढ़े तीन लाख: 3.5 lakh)."""
        if self.prefix:
            self.current = (self.current if self.current is not None else 1) + self.prefix
            self.prefix = Fraction(0)

    def takes(self, value: Fraction, word: str, gap: str) -> bool:
        """Whether a number word continues this number (दो लाख पचास हजार; two hundred and five; twenty-five)."""
        if self.prefix and self.current is None:
            return True
        if self.current is None and self.last_scale is not None:
            return value < self.last_scale
        if self.hundred and value < 100:
            return True
        return self.tens and value < 10 and gap in (" ", "-")

    def continued_by(self, tok: Token, gap: str) -> bool:
        """Whether digits continue this number after its unit: 2 हजार 425 is 2,425, as Hindi writes it."""
        if self.current is not None or self.last_scale is None or not gap.isspace():
            return False
        pieces = _digit_figures(tok, False)
        return len(pieces) == 1 and isinstance(pieces[0].value, NUMBER) and pieces[0].value < self.last_scale

    def add(self, value: Fraction, word: str | None, start: int, end: int):
        if self.current is None:
            self.current_start = start
        self.current = value if self.current is None else self.current + value
        self.hundred = False
        self.tens = word in ENGLISH_TENS
        self.end = end

    def accepts(self, scale: int) -> bool:
        """Whether a unit continues this number: a smaller unit than the last (दो लाख पचास हजार), or a larger one
        right after a unit (हजार करोड़: a thousand crore), within any real figure's size. Otherwise the unit begins
        a new number: दो लाख पचास हजार दो लाख is two figures."""
        if scale < 1000:
            return not self.hundred
        if self.last_scale is None or scale < self.last_scale:
            return True
        return self.current is None and self.total * scale <= _LARGEST

    def split(self) -> "_Group | None":
        """The part being written, as a number of its own (this one keeps what its units made)."""
        if self.current is None or self.last_scale is None:
            return None
        rest = _Group(self.current_start, self.end)
        rest.current, rest.tens, rest.hundred = self.current, self.tens, self.hundred
        self.current, self.end = None, self.unit_end
        return rest

    def apply_scale(self, scale: int, end: int):
        self.settle()
        current = self.current if self.current is not None else 1
        if scale < 1000:  # hundred, dozen: multiply the number being written
            self.current = current * scale
            self.hundred = scale == 100
        elif self.last_scale is None or scale < self.last_scale:
            self.total += current * scale
            self.current, self.last_scale = None, scale
        else:  # a larger unit after a smaller one: हजार करोड़ (a thousand crore) multiplies all so far
            self.total = (self.total + (self.current or 0)) * scale
            self.current, self.last_scale = None, scale
        self.tens = False
        self.scale = max(self.scale, scale)
        self.end = self.unit_end = end

    def figure(self, text: str) -> Figure | None:
        self.settle()
        if self.current is None and self.last_scale is None:
            return None
        value = self.total + (self.current or 0)
        return Figure(self.start, self.end, text[self.start : self.end], value, self.soft, scale=self.scale)


def figures(text: str) -> list[Figure]:
    """Every figure of ``text``, in order."""
    found: list[Figure] = []
    toks = tokens(text)
    group: _Group | None = None

    def flush():
        nonlocal group
        if group is not None and (figure := group.figure(text)) is not None:
            found.append(figure)
        group = None

    for i, tok in enumerate(toks):
        key = tok.key
        previous = toks[i - 1] if i else None
        gap = text[previous.end : tok.start] if previous else ""
        following = toks[i + 1] if i + 1 < len(toks) else None
        if tok.is_number and group is not None and group.continued_by(tok, gap):
            group.add(_digit_figures(tok, False)[0].value, None, tok.start, tok.end)  # 2 हजार 425, 5 लाख 20 हजार
        elif tok.is_number:
            flush()
            clock = _CLOCK.match(text, tok.end, tok.end + _CLOCK_WINDOW) is not None
            pieces = _digit_figures(tok, clock)
            if len(pieces) == 1 and pieces[0].kind == "figure" and isinstance(pieces[0].value, NUMBER):
                group = _Group(tok.start, tok.end)  # a unit may follow: 2.5 लाख
                group.current = pieces[0].value
            else:
                found.extend(pieces)
        elif key in ORDINAL_SUFFIXES and previous is not None and previous.is_number and gap == "":
            continue  # 21st, 21वीं: the number was taken already
        elif key in NUMBER_WORDS:
            value = Fraction(NUMBER_WORDS[key])
            if group is not None and group.takes(value, key, gap):
                group.soft = group.soft and key in SOFT_KEYS
            else:
                flush()
                group = _Group(tok.start, tok.end, soft=key in SOFT_KEYS)
            group.add(value, key, tok.start, tok.end)
        elif key in HINDI_FRACTIONS:
            flush()
            group = _Group(tok.start, tok.end)
            group.add(HINDI_FRACTIONS[key], key, tok.start, tok.end)
        elif key in HINDI_FRACTION_PREFIXES:
            flush()
            group = _Group(tok.start, tok.end, prefix=HINDI_FRACTION_PREFIXES[key])
        elif key in SCALES:
            if group is not None and not group.accepts(SCALES[key]):
                rest = group.split()
                flush()
                group = rest
            if group is None:
                if key in PLURAL_SCALES:
                    continue
                # an implied one: सौ साल, a million (the article makes it a figure; alone it may be a manner of
                # speaking, लाख कोशिशों के बावजूद)
                article = previous is not None and previous.key in ("a", "an") and gap == " "
                group = _Group(previous.start if article else tok.start, tok.end, soft=not article)
            else:
                group.soft = False
            group.apply_scale(SCALES[key], tok.end)
        elif key == "and" and group is not None and following is not None and (
            following.is_number or following.key in NUMBER_WORDS or following.key in ("a", "an")
        ):
            continue  # two hundred and fifty; two and a half
        elif key in ("a", "an") and group is not None and following is not None and following.key == "half":
            continue
        elif key == "half" and group is not None and group.current is not None and previous.key == "a":
            group.current += Fraction(1, 2)
            group.soft, group.end = False, tok.end
        else:
            flush()
    flush()
    _add_range_keys(found, text)
    _add_clock_keys(found, text)
    found += _calendar(toks, text)
    found.sort(key=lambda f: f.start)
    return found


def _add_range_keys(found: list[Figure], text: str):
    """2 से 3 लाख: the 2 is 2 lakh too."""
    for first, second in zip(found, found[1:]):
        if first.scale == 1 and second.scale > 1 and isinstance(first.value, NUMBER):
            if _RANGE.fullmatch(text, first.end, second.start):
                first.keys.add(_hashable(first.value * second.scale))


def _add_clock_keys(found: list[Figure], text: str):
    """A number before a clock word is an hour: 5 बजे is 5:00, साढ़े दस बजे 10:30, ग्यारह बजकर 15 मिनट 11:15."""
    for i, figure in enumerate(found):
        value = figure.value
        if figure.kind != "figure" or not isinstance(value, NUMBER) or not 0 <= value <= 24:
            continue
        clock = _CLOCK.match(text, figure.end, figure.end + _CLOCK_WINDOW)
        if clock is None:
            continue
        hour, part = divmod(value, 1)
        if part.denominator in (1, 2, 4):  # whole, half and quarter hours: साढ़े, सवा, पौने, डेढ़, ढाई
            figure.keys.add(_time_key(int(hour), int(part * 60)))
        if clock.group().strip() == "बजकर" and part == 0 and i + 1 < len(found):
            minutes = found[i + 1].value
            if isinstance(minutes, NUMBER) and minutes.denominator == 1 and 0 <= minutes < 60:
                both = _time_key(int(hour), int(minutes))
                figure.keys.add(both)
                found[i + 1].keys.add(both)


def _day_or_year(tok: Token, year: bool) -> bool:
    if tok.is_number:
        digits = _ascii_digits(tok.text)
        if not digits.isdigit() or len(digits) > 4:
            return False
        return int(digits) <= 31 or (year and len(digits) == 4)
    return 1 <= NUMBER_WORDS.get(tok.key, 0) <= 31


def _calendar(toks: list[Token], text: str) -> list[Figure]:
    """Weekdays, and months: a month next to a day or a year is part of a date (hard); a month alone is soft, since
    मार्च is also a protest march and May also a verb."""
    found = []
    for i, tok in enumerate(toks):
        word = tok.text if tok.text.isascii() else tok.key
        if word in WEEKDAYS:
            found.append(Figure(tok.start, tok.end, tok.text, ("weekday", WEEKDAYS[word]), kind="weekday"))
        elif word in MONTHS:
            before = i - 1
            while before >= 0 and i - before <= 2 and toks[before].key in ORDINAL_SUFFIXES | {"of"}:
                before -= 1
            dated = (before >= 0 and _day_or_year(toks[before], False)
                     and _DAY_MONTH_GAP.fullmatch(text, toks[before].end, tok.start) is not None)  # fmt: skip
            after = toks[i + 1] if i + 1 < len(toks) else None
            dated = dated or (after is not None and _day_or_year(after, True)
                              and _MONTH_DAY_GAP.fullmatch(text, tok.end, after.start) is not None)  # fmt: skip
            found.append(Figure(tok.start, tok.end, tok.text, ("month", MONTHS[word]), not dated, kind="month"))
    return found
