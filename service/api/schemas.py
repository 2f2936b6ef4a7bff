"""Request and response bodies of the HTTP API (they generate the OpenAPI schema at /docs)."""

from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ..glossaries import NAME_PATTERN

_SEEDS = Path(__file__).resolve().parent.parent.parent / "seeds"
_SEED_TEXT = (_SEEDS / "seed_article_hi.txt").read_text(encoding="utf-8") if _SEEDS.is_dir() else "भाजपा ने बैठक की।"
MAX_ID_CHARS = 200
# Lists are cut off while parsing, on the event loop, long before the configured limits (16 articles, 64 texts)
# that the routes check: validating 30 000 articles took 0.15 s of the loop, stopping at 1 000 takes 0.03 s.
MAX_LIST_ITEMS = 1000
MAX_SUMMARY_LANGUAGES = 4  # "source", "en" and a name or two for them: more can only be duplicates
SOURCE_LANG = (
    "the article's language: a FLORES-200 code (ben_Beng) or ISO 639-1 (bn), optionally with a script or region "
    "(ks-Deva, hi-IN); omitted: detected (meta.language_detection says what was found). GET /languages lists them"
)


def _no_lone_surrogates(value: str) -> str:
    """JSON may escape half of a UTF-16 pair ("\\ud800"); such a string is not text and cannot be encoded back."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text: a lone surrogate at character {exc.start}") from None
    return value


Text = Annotated[str, AfterValidator(_no_lone_surrogates)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GlossaryEntry(Strict):
    source: Text = Field(description="the term as the source writes it (matched as whole words, any spelling variant)")
    target: Text = Field(description="its English rendering, written as is into the translation")


class WithGlossary(Strict):
    """A glossary for the request: a stored one by name, or entries sent with it."""

    glossary: str | None = Field(
        None, pattern=NAME_PATTERN, description="the name of one of this key's glossaries (PUT /glossaries/{name}), "
        "enforced in the translation and the English summary",
    )
    glossary_entries: list[GlossaryEntry] | None = Field(
        None, max_length=MAX_LIST_ITEMS, description="a glossary sent with the request instead (at most "
        "MAX_INLINE_GLOSSARY_ENTRIES entries)",
    )

    @model_validator(mode="after")
    def _one_glossary(self):
        if self.glossary is not None and self.glossary_entries is not None:
            raise ValueError("send either 'glossary' (a stored glossary's name) or 'glossary_entries', not both")
        return self


class SummarizeOptions(WithGlossary):
    translate: bool = Field(True, description="translate the whole article into English")
    summary_languages: list[str] = Field(
        default_factory=lambda: ["source", "en"],
        max_length=MAX_SUMMARY_LANGUAGES,
        description="summaries to return, keyed by ISO 639-1 in the answer: \"source\" (the article's own language; "
        "for a Hindi article \"hi\" says the same), \"en\"; [] for none. A language mT5 XL-Sum does not cover gets "
        "no summary of its own (null, meta.unavailable_summaries says why): its English summary summarizes the English "
        "translation",
    )
    long_article: Literal["lead", "chunked"] | None = Field(
        None, description="over 512 tokens: lead = summarize the first 512 tokens (default), chunked = summarize "
        "chunks, then their summaries"
    )
    translation_num_beams: int | None = Field(None, ge=1, le=8, description="IndicTrans2 beams (default 5)")
    summary_num_beams: int | None = Field(None, ge=1, le=8, description="mT5 beams (default 4)")
    cache: bool = Field(
        True, description="false: the translation memory is neither read nor written for this request (embargoed text)"
    )
    format: Literal["text", "html"] = Field(
        "text", description="html: the text is a post body; translation.html keeps its markup (sanitized)"
    )
    html_attributes: bool = Field(False, description="html: also translate alt and title attributes")
    priority: Literal["interactive", "bulk"] = Field(
        "interactive", description="bulk: batched behind live work (archives); jobs take a top-level priority instead"
    )
    on_unsupported: Literal["flag", "drop"] = Field(
        "flag", description="flag: findings only; drop: a summary sentence with a figure or name the article lacks is "
        "removed (its finding says so)",
    )

    @model_validator(mode="after")
    def _something_to_do(self):
        if not self.translate and not self.summary_languages:
            raise ValueError("nothing to do: translate is false and summary_languages is empty")
        if len(set(self.summary_languages)) != len(self.summary_languages):
            raise ValueError("summary_languages has duplicates")
        return self


class ArticleIn(Strict):
    id: Text = Field(..., min_length=1, max_length=MAX_ID_CHARS)
    text: Text
    source_lang: str | None = Field(None, description=SOURCE_LANG + "; the request's source_lang when omitted")


class SummarizeRequest(Strict):
    """One article (``text``, optional ``id``) or several (``articles``), with shared ``options``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"id": "mp-bjp-370", "text": _SEED_TEXT, "options": {"translate": True}}]},
    )
    text: Text | None = None
    id: Text | None = Field(None, min_length=1, max_length=MAX_ID_CHARS)
    articles: list[ArticleIn] | None = Field(None, min_length=1, max_length=MAX_LIST_ITEMS)
    source_lang: str | None = Field(None, description=SOURCE_LANG + "; with articles, of those that name none")
    options: SummarizeOptions = Field(default_factory=SummarizeOptions)

    @model_validator(mode="after")
    def _one_form(self):
        if (self.text is None) == (self.articles is None):
            raise ValueError("send either 'text' (one article) or 'articles' (several), not both or neither")
        if self.articles is not None:
            if self.id is not None:
                raise ValueError("'id' goes inside each article when 'articles' is used")
            counts = Counter(a.id for a in self.articles)
            if duplicates := sorted(i for i, n in counts.items() if n > 1):
                raise ValueError(f"duplicate article ids: {', '.join(duplicates[:10])}")
        return self


class ModelRef(BaseModel):
    id: str
    revision: str


class Timings(BaseModel):
    split: float
    translate: float
    summarize: float
    total: float


class CacheUse(BaseModel):
    sentences: int = Field(description="the article's sentences (pieces of over-long ones count apiece)")
    hits: int = Field(description="of those, translations reused from the translation memory")
    summary_reused: bool = Field(description="the summary came from the memory (the cleaned article is unchanged)")


class LanguageDetection(BaseModel):
    lang: str = Field(description="FLORES-200 code of the language detected")
    confidence: float = Field(description="0–1")


class CheckFinding(BaseModel):
    check: str = Field(description="number, name, placeholder, untranslated, repetition, glossary, artifact, empty, "
                       "length (unchecked: the checks failed on this result; more: findings over SUMMARIZER_MAX_FINDINGS, counted)")  # fmt: skip
    severity: Literal["error", "warning"]
    where: str = Field(description="translation, translation.paragraphs[i], summary.<the article's ISO code> (summary.hi, …) or summary.en")
    span: list[int] = Field(min_length=2, max_length=2, description="[start, end) in that text, in Unicode code points; for something "
                                  "missing, the whole text it should be in")  # fmt: skip
    text: str
    detail: str


class Review(BaseModel):
    checks: list[CheckFinding] = Field(default_factory=list, description="what an editor should look at")
    review: Literal["ok", "needs_review"] = Field("ok", description="needs_review: at least one finding")


class ArticleMeta(BaseModel):
    source_lang: str = Field(description="FLORES-200 code of the article's language (named or detected)")
    language_detection: LanguageDetection | None = Field(
        None, description="set when the language was detected (no source_lang sent)"
    )
    unavailable_summaries: dict[str, str] = Field(
        default_factory=dict, description="summaries asked for that are null, and why (ISO code → reason)"
    )
    models: dict[str, ModelRef]
    device: str
    dtype: dict[str, str]
    input_tokens: int = Field(
        description="mT5 tokens of what it summarized: the article, or its English translation for a language XL-Sum "
        "does not cover"
    )
    truncated: bool = Field(description="true when the lead policy summarized only the first 512 tokens")
    timings_ms: Timings
    cache: CacheUse
    checks: list[CheckFinding] = Field(default_factory=list, description="the checks' findings (README: Editorial "
                                       "checks)")  # fmt: skip
    review: Literal["ok", "needs_review"] = Field("ok", description="needs_review: at least one finding")


class Translation(BaseModel):
    en: str
    paragraphs: list[str]
    html: str | None = Field(None, description="format html: the post body with its text in English")


class ArticleOut(BaseModel):
    id: str
    summary: dict[str, str | None] = Field(
        description="keyed by ISO 639-1 (639-3 where a language has no 639-1 code): always the article's language and "
        "\"en\" (null when not asked for or not made), then any other asked for"
    )
    translation: Translation | None
    meta: ArticleMeta


class SummarizeBatchOut(BaseModel):
    results: list[ArticleOut]


class TranslateRequest(WithGlossary):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": _SEED_TEXT.splitlines()[0], "source_lang": "hin_Deva"}]},
    )
    text: Text | None = None
    texts: list[Text] | None = Field(None, min_length=1, max_length=MAX_LIST_ITEMS)
    source_lang: str = Field("hin_Deva", max_length=20)
    target_lang: str = Field("eng_Latn", max_length=20)
    num_beams: int | None = Field(None, ge=1, le=8)
    cache: bool = Field(True, description="false: the translation memory is neither read nor written (embargoed text)")
    format: Literal["text", "html"] = Field("text", description="html: each text is an HTML fragment; markup kept")
    html_attributes: bool = Field(False, description="html: also translate alt and title attributes")

    @model_validator(mode="after")
    def _one_form(self):
        if (self.text is None) == (self.texts is None):
            raise ValueError("send either 'text' or 'texts', not both or neither")
        return self


class TranslationOut(BaseModel):
    translation: str
    paragraphs: list[str]
    html: str | None = None
    meta: Review | None = Field(None, description="the checks' findings on this translation, and the verdict")


class TranslateOut(BaseModel):
    translation: str | None = Field(None, description="set for the 'text' form")
    paragraphs: list[str] | None = Field(None, description="set for the 'text' form")
    translations: list[TranslationOut] | None = Field(None, description="set for the 'texts' form, in order")
    html: str | None = Field(None, description="format html, 'text' form: the document in English")
    meta: Review | None = Field(None, description="'text' form: the checks' findings and the verdict")
    source_lang: str
    target_lang: str


class SummaryIn(Strict):
    hi: Text | None = None
    en: Text | None = None


class CheckRequest(WithGlossary):
    """An article and its translation and/or summaries (an editor's own post-edit) to check."""

    source: Text = Field(..., min_length=1, description="the article (at most MAX_ARTICLE_CHARS)")
    translation: Text | None = Field(None, description="its English translation, paragraphs on their own lines")
    summary: SummaryIn | None = None


class GlossaryIn(Strict):
    entries: list[GlossaryEntry]


class GlossaryInfo(BaseModel):
    name: str
    version: str = Field(description="changes whenever the entries do")
    entry_count: int
    updated: float = Field(description="Unix time of the last PUT")


class GlossaryOut(BaseModel):
    name: str
    version: str
    entries: list[GlossaryEntry]
    updated: float


class GlossaryList(BaseModel):
    glossaries: list[GlossaryInfo]


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
