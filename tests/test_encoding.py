"""service.engine.encoding: the encoder run over groups of similar length gives every row what the whole padded
batch gives it."""

import random

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM

import service.translation  # noqa: F401 - registers IndicTrans2 with the Auto classes
from service.engine.encoding import SLACK, encode, length_groups
from service.engine.padding import pad_rows


def test_length_groups_partition_the_rows_within_the_padding_bound():
    rng = random.Random(7)
    for _ in range(200):
        lengths = [rng.randint(1, 120) for _ in range(rng.randint(1, 60))]
        groups = length_groups(lengths)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
        for group in groups:
            sizes = [lengths[i] for i in group]
            assert len(group) == 1 or len(group) * max(sizes) <= SLACK * sum(sizes)
        # Shortest first: every group's rows are no longer than the next group's.
        for a, b in zip(groups, groups[1:]):
            assert max(lengths[i] for i in a) <= min(lengths[i] for i in b)
    assert length_groups([10] * 5) == [[0, 1, 2, 3, 4]]


@pytest.mark.parametrize("name, left", [("indictrans2", True), ("mt5", False)])
def test_rows_get_what_the_padded_batch_gives_them(tiny_models, name, left):
    """Padded the way each model's tokenizer pads (IndicTrans2 on the left, mT5 on the right)."""
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_models / name).eval()
    generator = torch.Generator().manual_seed(11)
    lengths = [3, 30, 4, 17, 29, 5, 16, 30]
    rows = [torch.randint(5, 900, (n,), generator=generator).tolist() for n in lengths]
    batch = pad_rows(rows, model.config.pad_token_id, left=left)
    assert len(length_groups(lengths)) == 3
    with torch.inference_mode():
        expected = model.get_encoder()(**batch).last_hidden_state
        got = encode(model, batch)
    real = batch["attention_mask"].bool()
    assert got.shape == expected.shape
    torch.testing.assert_close(got[real], expected[real], rtol=1e-5, atol=1e-5)
    assert torch.isfinite(got).all()  # padding included: cross-attention's zero weights would not cancel NaN
