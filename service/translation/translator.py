"""Hindi (or another Indic language) → English with IndicTrans2.

``Translator.translate`` is the whole path for a list of sentences; the engine uses its three steps separately
(``prepare`` on the caller's side, ``generate`` batched on the worker, ``finish`` on the caller's side again) so
that sentences of every request in flight share a batch.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..engine.decoding import generate
from ..engine.padding import pad_rows
from ..text.indic_processing import LostTerm, preprocess, restore
from ..text.splitting import split_to_fit
from ..workers import Deadline
from .tokenizer import IndicTransTokenizer


@dataclass
class TranslationPiece:
    """One model input: a sentence, or a part of an over-long one, tokenized, with its placeholder map and the
    glossary terms among its placeholders ({target: the term as written})."""

    sentence_index: int
    input_ids: list[int]
    placeholders: dict[str, str]
    terms: dict[str, str] = field(default_factory=dict)


class Translator:
    def __init__(
        self, model, tokenizer: IndicTransTokenizer, num_beams: int = 5, max_new_tokens: int = 256, decoder: str = "fast"
    ):
        self.model = model
        self.decoder = decoder  # one of service.engine.decoding.DECODERS
        self.tokenizer = tokenizer
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.max_source_tokens = min(tokenizer.model_max_length, model.config.max_source_positions)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def _encode(self, text: str, src_lang: str, glossary=None):
        prepared = preprocess(text, src_lang, glossary=glossary)
        return self.tokenizer.encode_source(prepared.text), prepared.placeholders, prepared.terms

    def prepare(
        self, sentences: list[str], src_lang: str = "hin_Deva", deadline: Deadline | None = None, glossary=None
    ) -> list[TranslationPiece]:
        """Pre-process and tokenize; a sentence over the source limit becomes several pieces, never a cut one. The
        deadline is checked between sentences and between the trial splits of an over-long one. ``glossary``
        (``service.checks.glossary.Glossary``): its terms become placeholders that come back as their targets."""
        deadline = deadline or Deadline()
        pieces = []
        for index, sentence in enumerate(sentences):
            deadline.check()
            ids, placeholders, terms = self._encode(sentence, src_lang, glossary)
            if len(ids) <= self.max_source_tokens:
                pieces.append(TranslationPiece(index, ids, placeholders, terms))
                continue

            def fits(part: str) -> bool:
                deadline.check()
                return len(self._encode(part, src_lang, glossary)[0]) <= self.max_source_tokens

            for part in split_to_fit(sentence, fits):
                pieces.append(TranslationPiece(index, *self._encode(part, src_lang, glossary)))
        return pieces

    @torch.inference_mode()
    def generate_ids(self, rows: list[list[int]], num_beams: int | None = None, **overrides) -> torch.Tensor:
        """One left-padded batch through ``generate``; the output ids (right-padded after each row's </s>)."""
        batch = {k: v.to(self.device) for k, v in self.tokenizer.pad_batch(rows).items()}
        settings = {"num_beams": num_beams or self.num_beams, "max_new_tokens": self.max_new_tokens} | overrides
        return generate(self.model, batch, {"do_sample": False} | settings, self.decoder).cpu()

    def generate(self, rows: list[list[int]], num_beams: int | None = None, **overrides) -> list[str]:
        """One batch → the model's tokenized English, one string per row."""
        return self.tokenizer.batch_decode(self.generate_ids(rows, num_beams, **overrides))

    @staticmethod
    def finish(
        pieces: list[TranslationPiece],
        decoded: list[str],
        sentence_count: int,
        deadline: Deadline | None = None,
        lost: list[LostTerm] | None = None,
    ) -> list[str]:
        """Restore placeholders, detokenize, and glue the pieces of split sentences back together. A glossary term
        the model dropped is added to ``lost`` (a mangled placeholder was repaired by ``restore``)."""
        deadline = deadline or Deadline()
        parts: list[list[str]] = [[] for _ in range(sentence_count)]
        for piece, text in zip(pieces, decoded, strict=True):
            deadline.check()
            english, put_back = restore(text, piece.placeholders)
            parts[piece.sentence_index].append(english)
            if lost is not None:
                lost += [LostTerm(english, term, target) for target, term in piece.terms.items()
                         if target not in put_back]  # fmt: skip
        return [" ".join(p) for p in parts]

    def translate(self, sentences: list[str], src_lang: str = "hin_Deva", batch_size: int = 16) -> list[str]:
        """Sentences → English sentences, in order (length-sorted batches of ``batch_size`` pieces)."""
        pieces = self.prepare(sentences, src_lang)
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i].input_ids))
        decoded: list[str] = [""] * len(pieces)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            for i, text in zip(chunk, self.generate([pieces[i].input_ids for i in chunk])):
                decoded[i] = text
        return self.finish(pieces, decoded, len(sentences))


def load_translator(
    path, device, dtype, num_beams: int = 5, max_new_tokens: int = 256, decoder: str = "fast"
) -> Translator:
    """IndicTrans2 from a local directory in the official layout (see service.model_store for finding one)."""
    from transformers import AutoModelForSeq2SeqLM

    from . import IndicTransConfig  # noqa: F401 - registers "IndicTrans" with the Auto classes

    model = AutoModelForSeq2SeqLM.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
    model.to(device).eval()
    return Translator(model, IndicTransTokenizer(path), num_beams, max_new_tokens, decoder)


class Ct2Translator(Translator):
    """The same translator over a CTranslate2 copy of the model: CTranslate2's C++ loop decodes each batch our
    scheduler forms. ``generate_ids`` answers in ``generate``'s layout (decoder start, tokens, </s>, padding), so the
    engine and ``finish`` are unchanged. The PyTorch weights are not held."""

    def __init__(self, ct2, tokenizer: IndicTransTokenizer, source_tokens: list[str], max_source_positions: int,
                 device: str, num_beams: int = 5, max_new_tokens: int = 256):  # fmt: skip
        self.model = None
        self.decoder = "ctranslate2"
        self.ct2 = ct2
        self.tokenizer = tokenizer
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.max_source_tokens = min(tokenizer.model_max_length, max_source_positions)
        self._device = torch.device(device)
        self._source_tokens = source_tokens

    @property
    def device(self) -> torch.device:
        return self._device

    def generate_ids(self, rows: list[list[int]], num_beams: int | None = None, **overrides) -> torch.Tensor:
        results = self.ct2.translate_batch(
            [[self._source_tokens[i] for i in row] for row in rows],
            beam_size=num_beams or self.num_beams,
            max_decoding_length=overrides.get("max_new_tokens", self.max_new_tokens),
            min_decoding_length=overrides.get("min_new_tokens", 0),  # CTranslate2's default of 1 bans an early </s>
        )
        vocab, eos = self.tokenizer.tgt_vocab, self.tokenizer.eos_token_id
        outputs = [[eos] + [vocab[t] for t in r.hypotheses[0]] + [eos] for r in results]  # start is </s> too
        return pad_rows(outputs, self.tokenizer.pad_token_id, left=False)["input_ids"]


def load_ct2_translator(path, ct2_path, device: torch.device, compute_type: str, threads: int, num_beams: int = 5,
                        max_new_tokens: int = 256) -> Ct2Translator:  # fmt: skip
    """IndicTrans2 from its CTranslate2 copy (``service.engine.ct2_convert.ensure_copy``) and its tokenizer files."""
    import json

    from ..engine.ct2_convert import load, tokens_of  # ctranslate2 is imported only when it is used

    config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    tokenizer = IndicTransTokenizer(path)
    return Ct2Translator(load(ct2_path, device.type, compute_type, threads), tokenizer, tokens_of(tokenizer.src_vocab),
                         config["max_source_positions"], str(device), num_beams, max_new_tokens)  # fmt: skip
