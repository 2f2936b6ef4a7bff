"""The composition root: from Settings to loaded models, running engines and a pipeline (and back down)."""

import json
import logging
import time
from dataclasses import dataclass, field

import torch

from . import model_store
from .config import Settings, batch_bounds
from .engine import cpu_gemm
from .engine import device as devices
from .engine.beam_search import optimize_for_beam_search
from .engine.scheduler import BatchScheduler
from .memory import Memory, open_memory
from .pipeline import JobOptions, Pipeline
from .summarization.summarizer import Summarizer, load_summarizer
from .text.html_doc import HtmlLimits
from .text.language import language_identifier
from .translation.translator import Translator, load_translator
from .workers import TextWorkers

log = logging.getLogger(__name__)

WARMUP_TEXT = "प्रधानमंत्री ने आज नई दिल्ली में एक बैठक की।"


@dataclass
class Runtime:
    settings: Settings
    pipeline: Pipeline
    device: torch.device
    dtypes: dict[str, str]
    sources: dict[str, model_store.ModelSource]
    load_seconds: dict[str, float] = field(default_factory=dict)
    cpu_gemm: dict[str, str] = field(default_factory=dict)  # LoadedModels.cpu_gemm
    decoder: str = "fast"  # LoadedModels.decoder

    @property
    def engines(self) -> list[BatchScheduler]:
        return [self.pipeline.translation_engine, self.pipeline.summary_engine]

    def gpu_memory_bytes(self) -> int:
        return torch.cuda.memory_allocated(self.device) if self.device.type == "cuda" else 0

    def model_info(self) -> dict[str, dict[str, str]]:
        return {kind: {"id": s.spec, "revision": s.revision} for kind, s in self.sources.items()}

    def close(self, timeout_s: float = 30) -> None:
        for engine in self.engines:
            engine.close(timeout_s=timeout_s)
        self.pipeline.text_workers.close()
        if self.pipeline.memory is not None:
            self.pipeline.memory.close()


def resolve_sources(settings: Settings) -> dict[str, model_store.ModelSource]:
    """Find both models' files (or fail with one message naming what is missing and how to fetch it)."""
    revisions = model_store.pinned_revisions() | settings.model_revisions
    sources, missing = {}, []
    for kind, spec in (("translation", settings.translation_model), ("summarization", settings.summarization_model)):
        try:
            sources[kind] = model_store.resolve(spec, kind, settings.models_dir, revisions, settings.offline)
        except model_store.ModelFilesMissing as exc:
            missing.append(exc.message)
    if missing:
        raise model_store.ModelFilesMissing(f"model files not found: {'; '.join(missing)}. {model_store.NEXT_STEPS}")
    return sources


@dataclass
class LoadedModels:
    translator: Translator
    summarizer: Summarizer
    device: torch.device
    dtypes: dict[str, str]
    load_seconds: dict[str, float]
    cpu_gemm: dict[str, str] = field(default_factory=dict)  # per model on torch on CPU: "onednn" or "default"
    decoder: str = "fast"  # the models on torch decode with it (the setting, "auto" resolved)


def load_models(settings: Settings, sources: dict[str, model_store.ModelSource]) -> LoadedModels:
    """Both models on the configured device, backend and dtype (or CTranslate2 compute type)."""
    device = devices.resolve_device(settings.device)
    dtype = devices.resolve_dtype(settings.dtype, device)
    if device.type == "cpu":
        log.info("CPU inference with %d threads", devices.configure_cpu(settings.cpu_threads))
    summary_dtype = devices.summarizer_dtype(dtype)
    decoder = devices.resolve_decoder(settings.decoder, device)
    dtypes = {"translation": str(dtype).removeprefix("torch."), "summarization": str(summary_dtype).removeprefix("torch.")}
    on_torch = {
        "translation": lambda: load_translator(
            sources["translation"].path, device, dtype, settings.translation_num_beams,
            settings.translation_max_new_tokens, decoder,
        ),
        "summarization": lambda: load_summarizer(
            sources["summarization"].path, device, summary_dtype, settings.summary_num_beams,
            settings.summary_input_tokens, decoder,
        ),
    }  # fmt: skip
    setting = {"translation": "translation_backend", "summarization": "summary_backend"}
    loaded, seconds = {}, {}
    for kind, load in on_torch.items():
        t0 = time.perf_counter()
        loaded[kind] = None
        if getattr(settings, setting[kind]) == "ctranslate2":
            try:
                loaded[kind], dtypes[kind] = _on_ctranslate2(kind, settings, sources[kind], device)
            except OSError as exc:
                if setting[kind] in settings.model_fields_set:  # asked for by name: a start-up error
                    raise
                # The default, on a model store that cannot take the copy (read-only): torch, with a warning.
                log.warning("no CTranslate2 copy of %s could be made (%s); decoding it with torch. Run "
                            "`python -m service convert-models` where the store is writable.", sources[kind].spec, exc)
        if loaded[kind] is None:
            loaded[kind] = load()
        seconds[kind] = time.perf_counter() - t0
    pack = device.type == "cpu" and settings.cpu_gemm == "onednn" and cpu_gemm.available()
    kernels = {}
    for kind, model in loaded.items():
        if model.model is not None:  # on torch
            if device.type == "cpu":
                kernels[kind] = "onednn" if pack and cpu_gemm.pack_linears(model.model) else "default"
            optimize_for_beam_search(model.model)  # after packing: it patches the layers it finds
    return LoadedModels(loaded["translation"], loaded["summarization"], device, dtypes, seconds, kernels, decoder)


def _on_ctranslate2(kind: str, settings: Settings, source: model_store.ModelSource, device: torch.device):
    """One model on CTranslate2, from its copy in the model store (made now if missing or stale); with the dtype
    label ``ctranslate2-<compute type>``, the compute type chosen per model (``resolve_compute_type``)."""
    from .engine.ct2_convert import ensure_copy, resolve_compute_type
    from .summarization.summarizer import load_ct2_summarizer
    from .translation.translator import load_ct2_translator

    compute_type = resolve_compute_type(settings.ct2_compute_type, device, kind)
    path, made = ensure_copy(kind, source, settings.models_dir, compute_type)
    if made:
        log.info("made the CTranslate2 copy of %s in %s", source.spec, path)
    threads = (settings.cpu_threads or devices.available_cores()) if device.type == "cpu" else 0
    if kind == "translation":
        model = load_ct2_translator(source.path, path, device, compute_type, threads, settings.translation_num_beams,
                                    settings.translation_max_new_tokens)  # fmt: skip
    else:
        model = load_ct2_summarizer(source.path, path, device, compute_type, threads, settings.summary_num_beams,
                                    settings.summary_input_tokens)  # fmt: skip
    return model, f"ctranslate2-{compute_type}"


def fingerprints(settings: Settings, models: LoadedModels, sources: dict[str, model_store.ModelSource]) -> dict:
    """Per model, everything of it and its settings that shapes its output (the translation memory's keys hold it,
    with the request's beams): the weights' identity, backend and compute type (and CPU kernels: they round
    differently), and the decoding limits."""
    limits = {
        "translation": {"max_new_tokens": models.translator.max_new_tokens},
        "summarization": {"input_tokens": settings.summary_input_tokens},
    }
    return {
        kind: json.dumps([model_store.weights_identity(sources[kind]), models.dtypes[kind],  # names the backend too
                          str(models.device.type), models.cpu_gemm.get(kind), limits[kind]], sort_keys=True)
        for kind in ("translation", "summarization")
    }  # fmt: skip


def build_runtime(settings: Settings, observer=None) -> Runtime:
    """``observer`` (the API's metrics) gets ``on_batch(engine, rows, padded_tokens, seconds)`` and
    ``on_tokens(model, tokens_in, tokens_out)`` after every batch."""
    sources = resolve_sources(settings)
    language_identifier()  # its model loads in seconds: here, not in the first request that detects a language
    models = load_models(settings, sources)
    memory = open_memory(settings, fingerprints(settings, models, sources), observer)
    pipeline = make_pipeline(models.translator, models.summarizer, settings, observer=observer, memory=memory)
    return Runtime(settings, pipeline, models.device, models.dtypes, sources, models.load_seconds, models.cpu_gemm,
                   models.decoder)


def _engine(name: str, model, settings: Settings, observer, kwargs):
    """One batching engine around a translator or summarizer: generate, report tokens in and out, decode."""
    pad_id = model.tokenizer.pad_token_id
    max_batch_tokens, max_batch_size = batch_bounds(settings, name, model.device.type)

    def run_batch(rows, beams):
        ids = model.generate_ids(rows, num_beams=beams, **kwargs)
        if observer is not None:
            observer.on_tokens(name, sum(map(len, rows)), int((ids[:, 1:] != pad_id).sum()))
        return [model.tokenizer.decode(row) for row in ids]

    on_batch = observer.on_batch if observer is not None else None
    return BatchScheduler(
        name, run_batch, max_batch_tokens, max_batch_size, settings.max_wait_ms, settings.max_queued_items, on_batch
    )


def make_pipeline(translator, summarizer, settings: Settings, observer=None, translation_kwargs=None, summary_kwargs=None,
                  memory: Memory | None = None):  # fmt: skip
    """Two engines (their worker threads run side by side) around the two models, and the pipeline over them.
    ``*_kwargs`` go to every ``generate`` call (the benchmark fixes generation lengths with them, and uses no
    translation memory)."""
    translation = _engine("translation", translator, settings, observer, translation_kwargs or {})
    summary = _engine("summarization", summarizer, settings, observer, summary_kwargs or {})
    workers = TextWorkers(settings.text_workers, settings.max_pending_text_jobs)
    return Pipeline(
        translator, summarizer, translation, summary, workers, settings.max_article_chars,
        settings.max_sentences_per_article, memory,
        html_limits=HtmlLimits(settings.max_html_attributes_per_element, settings.max_html_attributes),
        language_sample_chars=settings.language_sample_chars,
    )  # fmt: skip


async def warm_up(runtime: Runtime) -> None:
    """One short article through both models, so the first caller does not pay for lazy initialisation."""
    await runtime.pipeline.process([("warmup", WARMUP_TEXT)], JobOptions(translation_num_beams=1, summary_num_beams=1))
