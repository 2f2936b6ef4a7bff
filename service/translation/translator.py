"""Hindi (or another Indic language) → English with IndicTrans2.

``Translator.translate`` is the whole path for a list of sentences; the engine uses its three steps separately
(``prepare`` on the caller's side, ``generate`` batched on the worker, ``finish`` on the caller's side again) so
that sentences of every request in flight share a batch.
"""

from dataclasses import dataclass

import torch

from ..engine.decoding import generate
from ..text.indic_processing import postprocess, preprocess
from ..text.splitting import split_to_fit
from ..workers import Deadline
from .tokenizer import IndicTransTokenizer


@dataclass
class TranslationPiece:
    """One model input: a sentence, or a part of an over-long one, tokenized, with its placeholder map."""

    sentence_index: int
    input_ids: list[int]
    placeholders: dict[str, str]


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

    def _encode(self, text: str, src_lang: str):
        prepared = preprocess(text, src_lang)
        return self.tokenizer.encode_source(prepared.text), prepared.placeholders

    def prepare(
        self, sentences: list[str], src_lang: str = "hin_Deva", deadline: Deadline | None = None
    ) -> list[TranslationPiece]:
        """Pre-process and tokenize; a sentence over the source limit becomes several pieces, never a cut one. The
        deadline is checked between sentences and between the trial splits of an over-long one."""
        deadline = deadline or Deadline()
        pieces = []
        for index, sentence in enumerate(sentences):
            deadline.check()
            ids, placeholders = self._encode(sentence, src_lang)
            if len(ids) <= self.max_source_tokens:
                pieces.append(TranslationPiece(index, ids, placeholders))
                continue

            def fits(part: str) -> bool:
                deadline.check()
                return len(self._encode(part, src_lang)[0]) <= self.max_source_tokens

            for part in split_to_fit(sentence, fits):
                pieces.append(TranslationPiece(index, *self._encode(part, src_lang)))
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
        pieces: list[TranslationPiece], decoded: list[str], sentence_count: int, deadline: Deadline | None = None
    ) -> list[str]:
        """Restore placeholders, detokenize, and glue the pieces of split sentences back together."""
        deadline = deadline or Deadline()
        parts: list[list[str]] = [[] for _ in range(sentence_count)]
        for piece, text in zip(pieces, decoded, strict=True):
            deadline.check()
            parts[piece.sentence_index].append(postprocess(text, piece.placeholders))
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
