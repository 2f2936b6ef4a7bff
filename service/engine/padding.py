"""Turning token-id lists of different lengths into one padded batch."""

import torch


def pad_rows(rows: list[list[int]], pad_id: int, left: bool) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` for ``rows``, padded on the left (IndicTrans2) or the right (T5)."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return {"input_ids": ids, "attention_mask": mask}
