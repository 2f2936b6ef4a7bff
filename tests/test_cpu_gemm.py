"""oneDNN-packed linear layers on the CPU (service.engine.cpu_gemm): the same products as nn.Linear to float32
rounding, the same tokens as the published model's generate, and the setting that turns them on or off."""

import mmap
import sys

import pytest
import torch
from torch import nn
from transformers import AutoModelForSeq2SeqLM

import service.translation  # noqa: F401 - registers IndicTrans2 with the Auto classes
from service.engine import cpu_gemm
from service.engine.beam_search import optimize_for_beam_search
from service.engine.decoding import decode
from service.runtime import load_models, resolve_sources

pytestmark = pytest.mark.skipif(not cpu_gemm.available(), reason="this torch build has no oneDNN")


@pytest.mark.parametrize("bias", [True, False])
def test_packed_layer_computes_what_the_dense_one_does(bias):
    torch.manual_seed(0)
    dense = nn.Linear(48, 80, bias=bias)
    packed = cpu_gemm.PackedLinear(dense)
    assert packed.weight.is_mkldnn and packed.weight.dtype == torch.float32  # the layer holds no dense copy
    assert not list(packed.parameters())
    x = torch.randn(6, 7, 48)
    with torch.inference_mode():
        for rows in (x[0, :1], x[0], x, x.transpose(0, 1)):  # one row, a few, 3-d, not contiguous
            assert torch.allclose(packed(rows), dense(rows), atol=1e-5, rtol=1e-5)
        assert torch.equal(packed.weight.to_dense(), dense.weight)


def load(tiny_models, name):
    return AutoModelForSeq2SeqLM.from_pretrained(tiny_models / name).eval()


@pytest.mark.parametrize("name", ["indictrans2", "mt5"])
@pytest.mark.parametrize(
    "settings",
    [
        {"num_beams": 1, "max_new_tokens": 12},
        {"num_beams": 5, "max_new_tokens": 14},
        {"num_beams": 4, "max_length": 12, "length_penalty": 0.6, "no_repeat_ngram_size": 2},  # the mT5 card's
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()),
)
def test_packed_model_decodes_the_published_models_tokens(tiny_models, name, settings):
    published, packed = load(tiny_models, name), load(tiny_models, name)
    assert cpu_gemm.pack_linears(packed) > 0
    assert not any(type(m) is nn.Linear for m in packed.modules())
    optimize_for_beam_search(packed)  # as the service loads it: the cross-attention patch over packed layers
    generator = torch.Generator().manual_seed(5)
    ids = torch.randint(5, 900, (6, 11), generator=generator)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.inference_mode():
        expected = published.generate(**batch, **settings)
        assert torch.equal(decode(packed, batch, **settings), expected)  # the service's decoder, fused layers
        assert torch.equal(packed.generate(**batch, **settings), expected)  # transformers' loop over packed layers


@pytest.mark.parametrize("setting, label", [("onednn", "onednn"), ("default", "default")])
def test_setting_chooses_the_kernels(settings_factory, setting, label):
    settings = settings_factory(translation_backend="torch", summary_backend="torch", cpu_gemm=setting)
    models = load_models(settings, resolve_sources(settings))
    assert models.cpu_gemm == {"translation": label, "summarization": label}
    for model in (models.translator.model, models.summarizer.model):
        linears = {type(m) for m in model.modules()} & {nn.Linear, cpu_gemm.PackedLinear}
        assert linears == {cpu_gemm.PackedLinear if setting == "onednn" else nn.Linear}


def resident_bytes() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * mmap.PAGESIZE


@pytest.mark.skipif(sys.platform != "linux", reason="MADV_PAGEOUT is Linux's")
def test_a_packed_layers_file_pages_are_released_and_read_again_unchanged(tmp_path):
    """A checkpoint's weight is a view of its memory-mapped file: after packing, its pages leave the resident set
    (else the dense copy would stay beside the packed one), and reading it again gives the same values."""
    size = 64 << 20
    expected = torch.arange(size // 4, dtype=torch.float32)
    (tmp_path / "weights.bin").write_bytes(expected.numpy().tobytes())
    storage = torch.UntypedStorage.from_file(str(tmp_path / "weights.bin"), shared=True, nbytes=size)
    mapped = torch.tensor([], dtype=torch.float32).set_(storage)
    assert torch.equal(mapped, expected)  # every page read in
    before = resident_bytes()
    cpu_gemm.release_pages(mapped)
    assert before - resident_bytes() > size * 0.9
    assert torch.equal(mapped, expected)
    anonymous = expected.clone()
    cpu_gemm.release_pages(anonymous)  # a hint only: memory that is not a file's keeps its contents
    assert torch.equal(anonymous, expected)
