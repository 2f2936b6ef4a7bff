"""All settings of the service: one ``Settings`` object read from ``SUMMARIZER_*`` environment variables (or a
``.env`` file). This is the only place defaults live; the README's configuration table mirrors it."""

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class InvalidSetting(ValueError):
    """A setting that cannot be used as given; ``serve`` stops with its message (exit code 2)."""


class KeySpec(BaseModel):
    """One API key with a name (for metrics and logs), its own rate, and a daily character quota."""

    model_config = ConfigDict(extra="forbid")
    key: SecretStr
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    rate_per_minute: float | None = Field(None, ge=0, description="this key's rate; default: RATE_LIMIT_PER_MINUTE")
    daily_chars: int | None = Field(None, ge=1, description="characters of text per UTC day; default: no quota")


@dataclass(frozen=True)
class AcceptedKey:
    key: str = field(repr=False)  # never in a log line or a traceback
    name: str = ""
    rate_per_minute: float | None = None
    daily_chars: int | None = None

    @classmethod
    def of(cls, spec: "SecretStr | KeySpec", where: str) -> "AcceptedKey":
        """The key of a plain string or an object, checked (``where`` names it in the error: a line, an item)."""
        if isinstance(spec, KeySpec):
            key = usable_key(spec.key.get_secret_value(), where)
            return cls(key, spec.name or _name_of(key), spec.rate_per_minute, spec.daily_chars)
        key = usable_key(spec.get_secret_value(), where)
        return cls(key, _name_of(key))


def _invisible(char: str) -> bool:
    """Whitespace of any script (U+00A0, U+2003, U+3000, tabs) or a format character (zero-width spaces and
    joiners, BOMs): what a copied secret may carry around it unseen."""
    return char.isspace() or unicodedata.category(char) == "Cf"


def strip_invisible(text: str) -> str:
    """``text`` without the whitespace and format characters around it (``str.strip`` keeps zero-width ones)."""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def usable_key(raw: str, where: str) -> str:
    """``raw`` without the invisible characters around it. ``InvalidSetting`` when nothing is left (a blank key would
    be an accepted empty credential, or run the service open) or when a character is not visible ASCII: a client
    sends the key in an HTTP header, where a control character, a space or a non-ASCII letter is a copying mistake or
    cannot be sent as typed. The message names the place and the character, never the key."""
    key = strip_invisible(raw)
    if not key:
        raise InvalidSetting(f"{where}: the key is blank (empty, or only whitespace or invisible characters)")
    if (bad := next((i for i, char in enumerate(key) if not "!" <= char <= "~"), None)) is not None:
        raise InvalidSetting(f"{where}: the key holds U+{ord(key[bad]):04X} at character {bad + 1}; a key is visible "
                             "ASCII (letters, digits, punctuation): it is sent in an HTTP header")  # fmt: skip
    return key


def _name_of(key: str) -> str:
    """A plain key's name: a short hash (never the key)."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


DEFAULT_TRANSLATION_MODEL = "ai4bharat/indictrans2-indic-en-dist-200M"
DEFAULT_SUMMARIZATION_MODEL = "csebuetnlp/mT5_multilingual_XLSum"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUMMARIZER_", env_file=".env", extra="ignore")

    # --- models ---------------------------------------------------------------------------------------------------
    translation_model: str = Field(DEFAULT_TRANSLATION_MODEL, description="IndicTrans2 hub id or local directory")
    summarization_model: str = Field(DEFAULT_SUMMARIZATION_MODEL, description="mT5 hub id or local directory")
    model_revisions: dict[str, str] = Field(
        default_factory=dict,
        description="hub id → revision (commit) to use; models/manifest.json holds the project's pins",
    )
    models_dir: Path = Field(Path("models"), description="the model store written by `download-models`")
    offline: bool = Field(False, description="never contact the hub; fail fast if files are missing")

    # --- device ---------------------------------------------------------------------------------------------------
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto | cpu | cuda | cuda:N")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="auto = bfloat16 (or float16) on GPU, float32 on CPU"
    )
    decoder: Literal["auto", "fast", "cuda-graphs", "transformers"] = Field(
        "auto",
        description="auto = cuda-graphs on GPUs, fast elsewhere; fast = the service's own decoding loop (same tokens "
        "as model.generate); cuda-graphs = the same, each step replayed as a CUDA graph (1.9x fast's step time on an "
        "H200, docs/BENCHMARKS.md); transformers = model.generate",
    )
    translation_backend: Literal["torch", "ctranslate2"] = Field(
        "ctranslate2",
        description="ctranslate2 = decode IndicTrans2 with CTranslate2 (a converted copy in the model store, made at "
        "start-up when missing; the same tokens as torch in float32); torch = transformers",
    )
    summary_backend: Literal["torch", "ctranslate2"] = Field(
        "torch", description="ctranslate2 = decode mT5 with CTranslate2 (its 2-gram ban differs with beams)"
    )
    ct2_compute_type: str = Field(
        "auto", pattern=r"^(auto|default|int8|int8_float32|int8_float16|int8_bfloat16|int16|float16|bfloat16|float32)$",
        description="CTranslate2 compute type of the models on it; auto = int8 on CPU; on GPU float16 for IndicTrans2 "
        "(an H200: 15 % faster steps than int8_float16) and bfloat16 for mT5 (its weights overflow in float16)",
    )
    cpu_threads: int | None = Field(None, ge=1, description="torch threads on CPU; default: the cores available")
    cpu_gemm: Literal["onednn", "default"] = Field(
        "onednn",
        description="float32 linear layers of models on torch on CPU: onednn = oneDNN with weights packed once (4-beam "
        "mT5 summaries 2.6x faster than with MKL on AMD EPYC, same tokens); default = torch's own (MKL on x86)",
    )
    warmup: bool = Field(True, description="run one generation per model before /readyz says ready")

    # --- server ---------------------------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    header_timeout_s: float = Field(10.0, gt=0, description="time for a connection to send a request head")
    keep_alive_s: int = Field(5, ge=1, description="how long an idle keep-alive connection stays open")
    max_connections: int = Field(
        1000, ge=1, description="requests in progress at once (JSON 503 `busy` above; /healthz and /readyz never count); "
        "fewer when the descriptor limit is low",
    )
    max_idle_connections: int = Field(
        256, ge=1, description="open connections without a request in progress (no head yet, a partial head, or "
        "keep-alive); above it the oldest idle one is closed",
    )
    max_idle_connections_per_client: int = Field(
        128, ge=1, description="the same per client address (at least the largest pool of connections one client "
        "opens at once: a client's new connections count as idle until their request arrives)"
    )

    # --- request limits -------------------------------------------------------------------------------------------
    max_article_chars: int = Field(20_000, ge=1, description="characters per article (413 above)")
    max_sentences_per_article: int = Field(1000, ge=1, description="sentences per article or text (413 above)")
    max_articles_per_request: int = Field(16, ge=1)
    max_texts_per_request: int = Field(64, ge=1, description="texts per /translate request")
    max_request_bytes: int = Field(1_000_000, ge=1, description="request body size (413 above), checked before parsing")
    max_html_attributes_per_element: int = Field(
        100, ge=1, description="HTML mode: attributes of one tag (413 above; parsers take time quadratic in them)"
    )
    max_html_attributes: int = Field(5000, ge=1, description="HTML mode: attributes in one text (413 above)")
    max_language_code_chars: int = Field(
        20, ge=2, description="length of a source_lang or summary language code (422 unsupported_language above)"
    )
    language_sample_chars: int = Field(
        4000, ge=1, description="characters of an article that language detection reads (bounds its cost per article)"
    )
    request_timeout_s: float = Field(120.0, gt=0, description="deadline of one request (504 after it)")
    body_timeout_s: float = Field(30.0, gt=0, description="time for a request body to arrive (408 after it)")

    # --- decoding -------------------------------------------------------------------------------------------------
    translation_num_beams: int = Field(5, ge=1, le=8, description="IndicTrans2 beams (model card: 5)")
    translation_max_new_tokens: int = Field(256, ge=1, le=512)
    summary_num_beams: int = Field(4, ge=1, le=8, description="mT5 beams (model card: 4)")
    summary_input_tokens: int = Field(512, ge=16, description="mT5 input limit (XL-Sum was trained on 512)")
    long_article_policy: Literal["lead", "chunked"] = Field("lead", description="default policy over the limit")

    # --- engine ---------------------------------------------------------------------------------------------------
    # Unset batch bounds follow the device (BATCH_BOUNDS): a GPU wants far larger batches than a CPU.
    translation_max_batch_tokens: int | None = Field(None, ge=1, description="rows × longest row, per translation batch")
    translation_max_batch_size: int | None = Field(None, ge=1)
    summary_max_batch_tokens: int | None = Field(None, ge=1)
    summary_max_batch_size: int | None = Field(None, ge=1)
    max_wait_ms: float = Field(5.0, ge=0, description="how long a batch may wait to fill")
    max_queued_items: int = Field(4096, ge=1, description="queued sentences/articles per engine; 429 above")
    text_workers: int = Field(2, ge=1, description="threads that clean, split, tokenize and restore request text")
    max_pending_text_jobs: int = Field(256, ge=1, description="text preparations waiting or running; 429 above")

    # --- translation memory ----------------------------------------------------------------------------------------
    cache: Literal["on", "off"] = Field("on", description="reuse translations of unchanged sentences and summaries")
    cache_dir: Path | None = Field(None, description="where the SQLite memory lives; default: <models_dir>/cache")
    cache_max_mb: float = Field(512, gt=0, description="size bound of the SQLite memory (least recently used out)")
    cache_url: str | None = Field(
        None, pattern=r"^rediss?://", description="redis://host:port/db: a memory shared by replicas (replaces SQLite)"
    )
    cache_ttl_s: int = Field(30 * 86400, ge=1, description="lifetime of a Redis entry")
    cache_scope: Literal["key", "shared"] = Field(
        "key",
        description="key = each API key reads only what it sent itself (an open service, without keys, is one scope; "
        "summarize-file in-process has its own); shared = one memory for every caller (one newsroom's editor page "
        "and CMS)",
    )
    cache_timeout_ms: float = Field(
        250, gt=0, description="the longest a request waits on the memory per lookup or write; past it (or on an "
        "error) it is served without the memory",
    )
    cache_retry_s: float = Field(
        10, gt=0, description="while the memory fails, how often one request checks it again (and reopens it)"
    )

    # --- glossaries and checks -----------------------------------------------------------------------------------
    glossaries_db: Path | None = Field(
        None, description="the SQLite file of the keys' glossaries; default: "
        "<models_dir>/glossaries/glossaries.sqlite3 (with CACHE_URL set they live in that Redis, shared by replicas)",
    )
    glossaries_timeout_s: float = Field(
        2.0, gt=0, description="how long a glossary read or write waits for its store (503 glossaries_unavailable)"
    )
    max_glossary_entries: int = Field(1000, ge=1, description="entries of one stored glossary (413 above)")
    max_glossary_bytes: int = Field(256_000, ge=1, description="body of a PUT /glossaries/{name} (413 above)")
    max_glossary_term_chars: int = Field(200, ge=1, description="characters of one entry's source or target (413)")
    max_glossaries_per_key: int = Field(100, ge=1, description="glossaries one API key may keep (409 above)")
    max_inline_glossary_entries: int = Field(
        100, ge=1, description="entries of a request's options.glossary_entries (413 above)"
    )
    max_findings: int = Field(
        50, ge=1, description="findings listed per result (meta.checks, /check); the rest are counted in one 'more' "
        "finding",
    )
    max_check_chars: int = Field(
        40_000, ge=1, description="characters of a translation or summary sent to POST /check (413 above; its source "
        "is bounded by MAX_ARTICLE_CHARS)",
    )

    # --- jobs and webhooks -------------------------------------------------------------------------------------------
    jobs_db: Path | None = Field(None, description="the SQLite file of accepted jobs; default: <models_dir>/jobs/jobs.sqlite3")
    job_concurrency: int = Field(4, ge=0, description="jobs run at once (0: accept jobs, run none: an intake replica)")
    job_timeout_s: float = Field(3600.0, gt=0, description="time one job may run before it fails")
    job_ttl_s: int = Field(7 * 86400, ge=60, description="how long a finished job and its result are kept")
    max_queued_jobs: int = Field(10_000, ge=1, description="jobs waiting; 429 above")
    jobs_max_mb: float = Field(
        1024, gt=0, description="bytes the job store may hold, finished jobs' results included (a waiting job counts "
        "twice its body: room for its result); 503 above"
    )
    jobs_max_mb_per_key: float = Field(256, gt=0, description="the same per API key; 429 job_storage_full above")
    jobs_lock_timeout_s: float = Field(
        2.0, gt=0, description="how long a job-store operation waits for a lock (503 jobs_unavailable after it)"
    )
    webhook_secret: SecretStr | None = Field(None, description="HMAC key of webhook signatures; no secret, no webhooks")
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list, description="JSON list of hosts webhooks may go to (\"*.example.com\" allowed)"
    )
    webhook_allow_link_local: bool = Field(False, description="allow link-local/metadata callback addresses")
    webhook_max_attempts: int = Field(8, ge=1, description="delivery attempts (back-off 2, 4, 8 … up to 300 s)")
    webhook_timeout_s: float = Field(10.0, gt=0, description="one delivery attempt, resolving the host included")
    webhook_max_in_flight: int = Field(8, ge=1, description="webhooks being delivered at once")
    webhook_max_in_flight_per_host: int = Field(2, ge=1, description="webhooks being delivered at once to one host")
    webhook_max_url_chars: int = Field(2000, ge=16, description="length of a callback_url (422 above)")

    # --- access -----------------------------------------------------------------------------------------------------
    api_keys: list[SecretStr | KeySpec] = Field(
        default_factory=list,
        description="JSON list of accepted keys: strings, or {\"key\", \"name\", \"rate_per_minute\", \"daily_chars\"}; "
        "empty = open",
    )
    api_keys_file: Path | None = Field(
        None, description="file with one accepted key per line, or one JSON object per line (secrets managers)"
    )
    require_api_key: bool = Field(False, description="refuse to start without at least one key (production)")
    cors_origins: list[str] = Field(default_factory=list, description="JSON list of browser origins allowed (CORS)")
    rate_limit_per_minute: float = Field(0, ge=0, description="requests per minute per key (or client IP); 0 = off")
    rate_limit_burst: int = Field(20, ge=1, description="requests a key may make at once before the rate applies")
    quotas_db: Path | None = Field(
        None, description="the SQLite file of each key's characters charged today (kept across restarts; replicas "
        "sharing it share the quota); default: <models_dir>/quotas/quotas.sqlite3",
    )
    auth_failures_per_minute: float = Field(
        10, ge=0, description="wrong keys an address may send per minute (as many at once) before 429; 0 = no limit"
    )

    # --- operations ---------------------------------------------------------------------------------------------------
    shutdown_grace_s: float = Field(30.0, ge=0, description="on SIGTERM, how long in-flight requests may finish")
    log_format: Literal["json", "text"] = Field("json", description="json = one JSON object per log line")
    log_article_text: bool = Field(False, description="debug only: log request texts")

    def glossaries_path(self) -> Path:
        return self.glossaries_db or Path(self.models_dir) / "glossaries" / "glossaries.sqlite3"

    def quotas_path(self) -> Path:
        return self.quotas_db or Path(self.models_dir) / "quotas" / "quotas.sqlite3"

    def accepted_keys(self) -> list[AcceptedKey]:
        """Keys from API_KEYS and API_KEYS_FILE together (in the file: blank lines and # comments ignored, a BOM and
        surrounding whitespace stripped; a line starting with ``{`` is a JSON key object, one starting with ``"`` a
        JSON string). ``InvalidSetting``, naming the place and never the key, since the service would otherwise run
        open or accept an empty credential: a key that is blank or not visible ASCII (``usable_key``), a keys file
        that is set but gives no key, REQUIRE_API_KEY with no key from anywhere; and two keys with one name."""
        keys = [AcceptedKey.of(spec, f"SUMMARIZER_API_KEYS item {n}") for n, spec in enumerate(self.api_keys, 1)]
        if self.api_keys_file is not None:
            keys += self._file_keys(self.api_keys_file)
        names = [key.name for key in keys]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise InvalidSetting(f"two API keys share the name {duplicates[0]!r}; names identify keys in the metrics")
        if self.require_api_key and not keys:
            raise InvalidSetting("SUMMARIZER_REQUIRE_API_KEY is set but no key is configured "
                                 "(SUMMARIZER_API_KEYS or SUMMARIZER_API_KEYS_FILE)")  # fmt: skip
        return keys

    @staticmethod
    def _file_keys(path: Path) -> list[AcceptedKey]:
        where = f"SUMMARIZER_API_KEYS_FILE={path}"
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidSetting(f"{where} cannot be read: {exc}") from None
        keys = []
        for number, line in enumerate(lines, 1):
            line = strip_invisible(line)
            if line and not line.startswith("#"):
                place = f"{where} line {number}"
                keys.append(AcceptedKey.of(_key_line(line, place), place))
        if not keys:
            raise InvalidSetting(f"{where} holds no key (only blank or # comment lines); the service would run "
                                 "without keys")  # fmt: skip
        return keys


def _key_line(line: str, where: str) -> "SecretStr | KeySpec":
    """One line of a keys file: a JSON object, a JSON string, or the key itself."""
    if not line.startswith(("{", '"')):
        return SecretStr(line)
    try:
        value = json.loads(line)
        return KeySpec.model_validate(value) if line.startswith("{") else SecretStr(value)
    except (ValueError, ValidationError) as exc:  # the message names the line, never the key
        fields = sorted({str(e["loc"][0]) for e in exc.errors()}) if isinstance(exc, ValidationError) else []
        what = f"invalid fields: {', '.join(fields)}" if fields else "not a JSON object or string"
        raise InvalidSetting(f"{where}: {what}") from None


# Default batch bounds per device type: (max padded tokens, max rows) for translation, then for summaries.
BATCH_BOUNDS = {
    "cpu": {"translation": (8192, 64), "summarization": (8192, 16)},
    "cuda": {"translation": (65536, 256), "summarization": (32768, 64)},
}


def batch_bounds(settings: Settings, engine: str, device_type: str) -> tuple[int, int]:
    """The configured bounds of one engine, or the device's defaults for those left unset."""
    tokens, rows = BATCH_BOUNDS["cuda" if device_type == "cuda" else "cpu"][engine]
    prefix = "translation" if engine == "translation" else "summary"
    return getattr(settings, f"{prefix}_max_batch_tokens") or tokens, getattr(settings, f"{prefix}_max_batch_size") or rows


# Settings that existed and are gone: set, they stop `serve` with what replaced them (pydantic would ignore them).
REMOVED = {
    "SUMMARIZER_CPU_QUANTIZE": "int8 on the CPU is CTranslate2's now: SUMMARIZER_CT2_COMPUTE_TYPE=int8 (the default on "
    "CPUs) for IndicTrans2, and SUMMARIZER_SUMMARY_BACKEND=ctranslate2 for mT5 (torch's dynamic quantization was "
    "slower and held more memory, and torch deprecates it)",
}


def check_removed(environ) -> None:
    """``InvalidSetting`` naming the replacement of a removed setting that is still set."""
    for name, instead in REMOVED.items():
        if environ.get(name, "").strip().lower() not in ("", "none"):
            raise InvalidSetting(f"{name} was removed: {instead}")


def backend_of(dtype: str) -> str:
    """The backend a model runs on, from its dtype label (``ctranslate2-<compute type>`` or a torch dtype)."""
    return "ctranslate2" if dtype.startswith("ctranslate2") else "torch"


def get_settings() -> Settings:
    return Settings()
