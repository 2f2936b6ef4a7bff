"""Abstractive summaries with mT5 (default: csebuetnlp/mT5_multilingual_XLSum, trained on XL-Sum: it summarizes an
article in its own language, for English and the nine Indic languages XL-Sum covers).

Input is whitespace-normalized as the model card does and limited to 512 tokens (what XL-Sum was trained on).
Longer articles follow a policy: ``lead`` keeps the first 512 tokens (default), ``chunked`` summarizes consecutive
sentence-aligned chunks and then summarizes the joined chunk summaries.
"""

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm
import torch

from ..engine.decoding import generate
from ..engine.padding import pad_rows
from ..text.splitting import split_sentences
from ..workers import Deadline

# Decoding settings of the model card (and of the checkpoint's own config).
CARD_GENERATION = {"num_beams": 4, "max_length": 84, "no_repeat_ngram_size": 2, "length_penalty": 0.6}


def card_settings(num_beams: int, overrides: dict) -> dict:
    """The card's settings for one call. A greedy call (1 beam) gets the neutral length penalty: the penalty only ranks
    beams, and the checkpoint's own 0.6 would otherwise make transformers warn that it is not valid without them."""
    settings = CARD_GENERATION | {"num_beams": num_beams} | overrides
    if settings["num_beams"] == 1:
        settings["length_penalty"] = 1.0
    return settings


def normalize_whitespace(text: str) -> str:
    """The model card's WHITESPACE_HANDLER: newlines and whitespace runs become single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"\n+", " ", text.strip()))


class SummaryTokenizer:
    """mT5's SentencePiece tokenizer (spiece.model; pad 0, eos 1, unk 2), as T5Tokenizer uses it."""

    pad_token_id, eos_token_id, unk_token_id = 0, 1, 2

    def __init__(self, directory: str | Path):
        self.sp = spm.SentencePieceProcessor(model_file=str(Path(directory) / "spiece.model"))
        self.size = self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Ids without the final ``</s>``."""
        return self.sp.encode(text)

    def decode(self, ids) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        specials = (self.pad_token_id, self.eos_token_id, self.unk_token_id)
        # Ids past the SentencePiece vocabulary are mT5's unused padding rows of the embedding matrix.
        return self.sp.decode([i for i in ids if i not in specials and i < self.size]).strip()

    def pad_batch(self, rows: list[list[int]]) -> dict[str, torch.Tensor]:
        """Right-pad id lists (T5's convention) into ``input_ids`` and ``attention_mask``."""
        return pad_rows(rows, self.pad_token_id, left=False)


@dataclass
class SummaryInput:
    """The model inputs of one article: one row (lead) or several chunks (chunked)."""

    rows: list[list[int]]
    input_tokens: int  # tokens of the whole normalized article, </s> included
    truncated: bool  # True when the lead policy dropped text beyond the limit


class Summarizer:
    def __init__(
        self, model, tokenizer: SummaryTokenizer, num_beams: int = 4, max_input_tokens: int = 512, decoder: str = "fast"
    ):
        self.model = model
        self.decoder = decoder  # one of service.engine.decoding.DECODERS
        self.tokenizer = tokenizer
        self.num_beams = num_beams
        self.max_input_tokens = max_input_tokens

    @property
    def device(self) -> torch.device:
        return self.model.device

    def prepare(
        self, text: str, policy: str = "lead", deadline: Deadline | None = None, lang: str = "hin_Deva"
    ) -> SummaryInput:
        """mT5's input rows for ``text`` (in ``lang``, a FLORES-200 code: chunks end at its sentence ends)."""
        eos = self.tokenizer.eos_token_id
        ids = self.tokenizer.encode(normalize_whitespace(text))
        limit = self.max_input_tokens - 1
        if len(ids) <= limit:
            return SummaryInput([ids + [eos]], len(ids) + 1, False)
        if policy == "lead":
            return SummaryInput([ids[:limit] + [eos]], len(ids) + 1, True)
        chunks = self._chunks(text, limit, deadline or Deadline(), lang)
        return SummaryInput([c + [eos] for c in chunks], len(ids) + 1, False)

    def _chunks(self, text: str, limit: int, deadline: Deadline, lang: str) -> list[list[int]]:
        """Consecutive sentence-aligned chunks of at most ``limit`` tokens (an over-long sentence is cut in pieces)."""
        chunks: list[list[int]] = [[]]
        for sentence in split_sentences(normalize_whitespace(text), lang):
            deadline.check()
            ids = self.tokenizer.encode(sentence)
            if chunks[-1] and len(chunks[-1]) + len(ids) > limit:
                chunks.append([])
            for start in range(0, len(ids), limit):
                if chunks[-1] and len(chunks[-1]) + len(ids[start : start + limit]) > limit:
                    chunks.append([])
                chunks[-1].extend(ids[start : start + limit])
        return [c for c in chunks if c]

    def second_pass(self, chunk_summaries: list[str]) -> list[int]:
        """The row that summarizes the joined chunk summaries (cut to the limit if they are still too long)."""
        ids = self.tokenizer.encode(normalize_whitespace(" ".join(chunk_summaries)))
        return ids[: self.max_input_tokens - 1] + [self.tokenizer.eos_token_id]

    @torch.inference_mode()
    def generate_ids(self, rows: list[list[int]], num_beams: int | None = None, **overrides) -> torch.Tensor:
        """One right-padded batch through ``generate`` with the model card's settings; the output ids."""
        batch = {k: v.to(self.device) for k, v in self.tokenizer.pad_batch(rows).items()}
        settings = card_settings(num_beams or self.num_beams, overrides)
        return generate(self.model, batch, {"do_sample": False} | settings, self.decoder).cpu()

    def generate(self, rows: list[list[int]], num_beams: int | None = None, **overrides) -> list[str]:
        return [self.tokenizer.decode(row) for row in self.generate_ids(rows, num_beams, **overrides)]

    def summarize(self, texts: list[str], policy: str = "lead") -> list[str]:
        """Articles → summaries in their own language, one at a time (the engine batches across requests instead)."""
        summaries = []
        for text in texts:
            prepared = self.prepare(text, policy)
            parts = self.generate(prepared.rows)
            summaries.append(parts[0] if len(parts) == 1 else self.generate([self.second_pass(parts)])[0])
        return summaries


# transformers 5 configures every mT5 as tied (MT5Config forces tie_word_embeddings), finds the published checkpoints'
# own lm_head (mT5 never tied it), keeps it untied, and warns on every load that the config should say so. For mT5
# that is the expected layout: only this message is dropped, while mT5 loads; any other stays.
_UNTIED_LM_HEAD = "specifies to tie shared.weight to lm_head.weight, but both are present in the checkpoints"


class _DropUntiedLmHead(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _UNTIED_LM_HEAD not in record.getMessage()


@contextmanager
def untied_lm_head_expected():
    logger = logging.getLogger("transformers.modeling_utils")
    drop = _DropUntiedLmHead()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def load_mt5(path, dtype):
    """mT5's weights as published (its own lm_head), on the CPU."""
    from transformers import AutoModelForSeq2SeqLM

    with untied_lm_head_expected():
        return AutoModelForSeq2SeqLM.from_pretrained(path, dtype=dtype)


def load_summarizer(
    path, device, dtype, num_beams: int = 4, max_input_tokens: int = 512, decoder: str = "fast"
) -> Summarizer:
    """mT5 from a local directory (config.json, weights, spiece.model)."""
    model = load_mt5(path, dtype)
    model.to(device).eval()
    return Summarizer(model, SummaryTokenizer(path), num_beams, max_input_tokens, decoder)


class Ct2Summarizer(Summarizer):
    """The same summarizer over a CTranslate2 copy of mT5 (the card's decoding settings mapped onto
    ``translate_batch``); ``generate_ids`` answers in ``generate``'s layout. The PyTorch weights are not held.
    With beams, CTranslate2 applies the no-repeat-2-gram ban before its softmax (see docs/OPERATIONS.md)."""

    def __init__(self, ct2, tokenizer: SummaryTokenizer, tokens: list[str], device: str, num_beams: int = 4,
                 max_input_tokens: int = 512):  # fmt: skip
        self.model = None
        self.decoder = "ctranslate2"
        self.ct2 = ct2
        self.tokenizer = tokenizer
        self.num_beams = num_beams
        self.max_input_tokens = max_input_tokens
        self._tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}
        self._device = torch.device(device)

    @property
    def device(self) -> torch.device:
        return self._device

    def generate_ids(self, rows: list[list[int]], num_beams: int | None = None, **overrides) -> torch.Tensor:
        settings = card_settings(num_beams or self.num_beams, overrides)
        results = self.ct2.translate_batch(
            [[self._tokens[i] for i in row] for row in rows],
            beam_size=settings["num_beams"],
            length_penalty=settings["length_penalty"],
            no_repeat_ngram_size=settings["no_repeat_ngram_size"],
            max_decoding_length=settings["max_length"] - 1,  # generate's lengths count the decoder start token
            min_decoding_length=max(0, settings.get("min_length", 1) - 1),
        )
        pad, eos = self.tokenizer.pad_token_id, self.tokenizer.eos_token_id
        outputs = [[pad] + [self._ids[t] for t in r.hypotheses[0]] + [eos] for r in results]  # start is <pad>
        return pad_rows(outputs, pad, left=False)["input_ids"]


def load_ct2_summarizer(path, ct2_path, device: torch.device, compute_type: str, threads: int, num_beams: int = 4,
                        max_input_tokens: int = 512) -> Ct2Summarizer:  # fmt: skip
    """mT5 from its CTranslate2 copy (``service.engine.ct2_convert.ensure_copy``) and ``spiece.model``."""
    import json

    from ..engine.ct2_convert import load, mt5_tokens  # ctranslate2 is imported only when it is used

    vocab_size = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    tokens = mt5_tokens(Path(path) / "spiece.model", vocab_size)
    return Ct2Summarizer(load(ct2_path, device.type, compute_type, threads), SummaryTokenizer(path), tokens,
                         str(device), num_beams, max_input_tokens)  # fmt: skip
