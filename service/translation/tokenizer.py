"""IndicTrans2's tokenizer: two SentencePiece models (model.SRC, model.TGT) with their own piece→id vocabularies
(dict.SRC.json, dict.TGT.json), as shipped in the published checkpoints.

A source line is ``"<src_tag> <tgt_tag> <text>"``: the two tags are single vocabulary entries, the text is encoded
with model.SRC, and ``</s>`` is appended. Batches are left-padded (the published models' convention; positions do not
depend on padding side). Target ids decode by dropping special tokens and joining pieces.
"""

import json
from pathlib import Path

import sentencepiece as spm
import torch

from ..engine.padding import pad_rows

TOKENIZER_FILES = ("model.SRC", "model.TGT", "dict.SRC.json", "dict.TGT.json")
_PIECE_SPACE = "\u2581"


class IndicTransTokenizer:
    unk_token, pad_token, bos_token, eos_token = "<unk>", "<pad>", "<s>", "</s>"

    def __init__(self, directory: str | Path, model_max_length: int = 256):
        directory = Path(directory)
        missing = [name for name in TOKENIZER_FILES if not (directory / name).is_file()]
        if missing:
            raise FileNotFoundError(f"IndicTrans2 tokenizer files missing in {directory}: {', '.join(missing)}")
        self.model_max_length = model_max_length
        self.src_vocab: dict[str, int] = json.loads((directory / "dict.SRC.json").read_text(encoding="utf-8"))
        self.tgt_vocab: dict[str, int] = json.loads((directory / "dict.TGT.json").read_text(encoding="utf-8"))
        self.tgt_pieces = {i: piece for piece, i in self.tgt_vocab.items()}
        self.src_spm = spm.SentencePieceProcessor(model_file=str(directory / "model.SRC"))
        self.tgt_spm = spm.SentencePieceProcessor(model_file=str(directory / "model.TGT"))
        self.unk_token_id = self.src_vocab[self.unk_token]
        self.pad_token_id = self.src_vocab[self.pad_token]
        self.bos_token_id = self.src_vocab[self.bos_token]
        self.eos_token_id = self.src_vocab[self.eos_token]
        self.special_ids = {self.unk_token_id, self.pad_token_id, self.bos_token_id, self.eos_token_id}

    # --- source side -------------------------------------------------------------------------------------------
    def source_pieces(self, line: str) -> list[str]:
        src_tag, tgt_tag, text = (line.split(" ", 2) + [""])[:3]
        return [src_tag, tgt_tag] + self.src_spm.encode(text, out_type=str)

    def encode_source(self, line: str) -> list[int]:
        """Ids of one tagged, pre-processed source line, ``</s>`` included."""
        unk = self.unk_token_id
        return [self.src_vocab.get(piece, unk) for piece in self.source_pieces(line)] + [self.eos_token_id]

    def pad_batch(self, rows: list[list[int]]) -> dict[str, torch.Tensor]:
        """Left-pad id lists into ``input_ids`` and ``attention_mask`` tensors."""
        return pad_rows(rows, self.pad_token_id, left=True)

    def __call__(self, lines: list[str]) -> dict[str, torch.Tensor]:
        return self.pad_batch([self.encode_source(line) for line in lines])

    # --- target side -------------------------------------------------------------------------------------------
    def encode_target(self, text: str) -> list[int]:
        unk = self.unk_token_id
        return [self.tgt_vocab.get(piece, unk) for piece in self.tgt_spm.encode(text, out_type=str)] + [
            self.eos_token_id
        ]

    def decode(self, ids) -> str:
        """Target ids → the model's tokenized English (specials dropped, pieces joined)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        pieces = [self.tgt_pieces.get(i, self.unk_token) for i in ids if i not in self.special_ids]
        return "".join(pieces).replace(_PIECE_SPACE, " ").strip()

    def batch_decode(self, batch) -> list[str]:
        if isinstance(batch, torch.Tensor):
            batch = batch.tolist()
        return [self.decode(ids) for ids in batch]
