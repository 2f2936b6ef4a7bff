"""CTranslate2 copies of the two models, built from the loaded PyTorch models (see shared/notes/ctranslate2.md).

IndicTrans2: transformers' converter in CTranslate2 has no loader for it, so the spec is declared here — an M2M100-like
pre-norm Transformer with GELU, optional ``layernorm_embedding`` and separate source and target vocabularies — and
filled by CTranslate2's own M2M100 helpers (q/k/v fusion, sinusoidal positions past fairseq's offset, √d scale).
mT5: CTranslate2's MT5 loader over the model, with two corrections: no decoder-output rescaling (transformers 5
reports ``tie_word_embeddings`` for mT5 but never rescales), and the vocabulary taken from ``spiece.model``.
"""

import hashlib
import json
import logging
import shutil
from pathlib import Path

import ctranslate2
import sentencepiece as spm
import torch
from ctranslate2.converters import Converter
from ctranslate2.converters.transformers import M2M100Loader, MT5Loader, _SUPPORTED_ACTIVATIONS
from ctranslate2.specs import model_spec, transformer_spec

log = logging.getLogger(__name__)


class _IndicTransLoader(M2M100Loader):
    def get_model_spec(self, model):
        config = model.config
        spec = transformer_spec.TransformerSpec.from_config(
            (config.encoder_layers, config.decoder_layers),
            config.encoder_attention_heads,
            pre_norm=True,
            activation=_SUPPORTED_ACTIVATIONS[config.activation_function],
            layernorm_embedding=bool(config.layernorm_embedding),
        )
        self.set_encoder(spec.encoder, model.model.encoder)
        self.set_decoder(spec.decoder, model.model.decoder)
        self.set_linear(spec.decoder.projection, model.lm_head)
        return spec

    def set_common_layers(self, spec, module):
        spec.scale_embeddings = module.embed_tokens.embed_scale
        self.set_position_encodings(spec.position_encodings, module.embed_positions)
        self.set_embeddings(spec.embeddings[0] if isinstance(spec.embeddings, list) else spec.embeddings,
                            module.embed_tokens)  # fmt: skip
        self.set_layer_norm(spec.layer_norm, module.layer_norm)
        if module.layernorm_embedding is not None:
            self.set_layer_norm(spec.layernorm_embedding, module.layernorm_embedding)


def indictrans_spec(model, tokenizer):
    """The spec of our IndicTrans2 model: weights from the model, vocabularies from the tokenizer's two dicts."""
    spec = _IndicTransLoader().get_model_spec(model)
    spec.register_source_vocabulary(tokens_of(tokenizer.src_vocab))
    spec.register_target_vocabulary(tokens_of(tokenizer.tgt_vocab))
    spec.config.bos_token, spec.config.eos_token, spec.config.unk_token = "<s>", "</s>", "<unk>"
    spec.config.decoder_start_token = "</s>"
    return spec


def tokens_of(vocab: dict[str, int]) -> list[str]:
    tokens = sorted(vocab, key=vocab.__getitem__)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise ValueError("the vocabulary's ids are not 0..n-1")
    return tokens


class _MT5Loader(MT5Loader):
    def get_model_spec(self, model):
        spec = super().get_model_spec(model)
        spec.decoder.scale_outputs = model_spec.OPTIONAL  # MT5ForConditionalGeneration never rescales its output
        return spec


def mt5_tokens(spiece_path: Path, vocab_size: int) -> list[str]:
    """mT5's vocabulary by id: the pieces of ``spiece.model``, then unique names for the embedding's unused rows."""
    sp = spm.SentencePieceProcessor(model_file=str(spiece_path))
    tokens = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    return tokens + [f"<unused_{i}>" for i in range(vocab_size - len(tokens))]


def mt5_spec(model, spiece_path: Path):
    """The spec of an mT5 model, with ``mt5_tokens`` as its vocabulary."""
    spec = _MT5Loader().get_model_spec(model)
    tokens = mt5_tokens(spiece_path, model.config.vocab_size)
    spec.register_source_vocabulary(tokens)
    spec.register_target_vocabulary(tokens)
    spec.config.bos_token, spec.config.eos_token, spec.config.unk_token = "<pad>", "</s>", "<unk>"
    spec.config.decoder_start_token = "<pad>"
    return spec


class _SpecConverter(Converter):
    def __init__(self, spec):
        self.spec = spec

    def _load(self):
        return self.spec


def save(spec, out_dir: Path, quantization: str = "float32") -> Path:
    """Validate, quantize and write a spec (replacing ``out_dir``)."""
    return Path(_SpecConverter(spec).convert(str(out_dir), quantization=quantization, force=True))


def load(directory: Path, device: str = "cpu", compute_type: str = "default", threads: int = 0):
    return ctranslate2.Translator(str(directory), device=device, compute_type=compute_type, intra_threads=threads)


# --- the copies in the model store ----------------------------------------------------------------------------------
RECORD = "CONVERTED.json"


# Compute types with float16 activations. T5-family checkpoints (mT5) overflow in them: the feed-forward blocks reach
# inf and turn into NaN a few layers later; transformers clamps there, CTranslate2 does not (../shared/notes/
# ctranslate2.md, last section). Random test weights are too small to show it; the published checkpoints do.
FLOAT16_ACTIVATIONS = ("float16", "int8_float16")


def resolve_compute_type(setting: str, device, kind: str) -> str:
    """The compute type of one model (``kind``: "translation" or "summarization") on ``device``. ``auto``: int8 on
    CPUs; on GPUs IndicTrans2 in float16 (measured on an H200: int8_float16's steps are 15 % slower) and mT5 in
    bfloat16 (the same step time as torch bfloat16 there), or float32 on a GPU without bfloat16. mT5 set to a float16
    type on a GPU runs as asked, with a warning: its published weights overflow there."""
    device = torch.device(device)
    if setting == "auto":
        if device.type != "cuda":
            return "int8"
        if kind == "translation":
            return "float16"
        bfloat16 = "bfloat16" in ctranslate2.get_supported_compute_types("cuda", device.index or 0)
        return "bfloat16" if bfloat16 else "float32"
    if kind == "summarization" and device.type == "cuda" and setting in FLOAT16_ACTIVATIONS:
        log.warning("SUMMARIZER_CT2_COMPUTE_TYPE=%s puts mT5 on CTranslate2 in float16 activations: the "
                    "published mT5 weights overflow in float16 (inf, then NaN: empty or garbled summaries). Use auto "
                    "(float16 for IndicTrans2, bfloat16 for mT5), bfloat16 or float32, unless this checkpoint was "
                    "proven in float16 with beam search.", setting)  # fmt: skip
    return setting


def copy_dir(models_dir: Path, source, quantization: str) -> Path:
    """Where the CTranslate2 copy of a model lives: beside a stored model (``models/<org>--<name>/ct2-<quant>``), or,
    for a model in a directory of its own (which may be read-only), ``models/local/<name>-<hash of its path>/``."""
    from ..model_store import store_dir

    if source.origin == "local":
        digest = hashlib.sha256(str(source.path.resolve()).encode()).hexdigest()[:10]
        return Path(models_dir) / "local" / f"{source.path.name}-{digest}" / f"ct2-{quantization}"
    return store_dir(models_dir, source.spec) / f"ct2-{quantization}"


def _record_of(kind: str, source, quantization: str) -> dict:
    """What the copy was made from; a copy whose record differs is made again."""
    from ..model_store import weights_identity

    return {"kind": kind, **weights_identity(source), "quantization": quantization,
            "ctranslate2": ctranslate2.__version__}  # fmt: skip


def ensure_copy(kind: str, source, models_dir: Path, quantization: str) -> tuple[Path, bool]:
    """The model's CTranslate2 copy, its weights stored in ``quantization`` (what it will be loaded as: loading a
    float32 copy as int8 peaked at 3.7 GiB for the two bench models), made now when missing or stale: (path, made)."""
    target = copy_dir(models_dir, source, quantization)
    record = _record_of(kind, source, quantization)
    marker = target / RECORD
    if marker.is_file() and json.loads(marker.read_text()) == record:
        return target, False
    from transformers import AutoModelForSeq2SeqLM

    from ..summarization.summarizer import load_mt5
    from ..translation import IndicTransConfig  # noqa: F401 - registers "IndicTrans" with the Auto classes
    from ..translation.tokenizer import IndicTransTokenizer

    if kind == "translation":
        model = AutoModelForSeq2SeqLM.from_pretrained(source.path, dtype=torch.float32).eval()
        spec = indictrans_spec(model, IndicTransTokenizer(source.path))
    else:
        spec = mt5_spec(load_mt5(source.path, torch.float32).eval(), source.path / "spiece.model")
    staging = target.with_name(target.name + ".partial")  # a crash mid-write never leaves a copy that looks whole
    save(spec, staging, quantization)
    (staging / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target, True
