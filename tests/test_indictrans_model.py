"""Our IndicTrans2 against the upstream implementation's outputs, through transformers' Auto classes."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForSeq2SeqLM

import service.translation  # noqa: F401 - registers model_type "IndicTrans"
from service.translation import IndicTransConfig, IndicTransForConditionalGeneration

from .conftest import FIXTURES

STYLES = ["parity_dist200m_style", "parity_1b_style"]


def load(path, **kwargs):
    model, info = AutoModelForSeq2SeqLM.from_pretrained(path, output_loading_info=True, **kwargs)
    return model.eval(), info


def reference(style):
    return load_file(FIXTURES / style / "reference_outputs.safetensors")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("style", STYLES)
def test_parity_with_upstream(style, attn):
    model, info = load(FIXTURES / style, attn_implementation=attn)
    assert isinstance(model, IndicTransForConditionalGeneration)
    assert not any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    ref = reference(style)
    with torch.no_grad():
        out = model(
            input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], decoder_input_ids=ref["decoder_input_ids"]
        )
    torch.testing.assert_close(out.encoder_last_hidden_state, ref["encoder_last_hidden_state"], atol=1e-4, rtol=0)
    torch.testing.assert_close(out.logits, ref["logits"], atol=1e-4, rtol=0)
    inputs = {"input_ids": ref["input_ids"], "attention_mask": ref["attention_mask"], "do_sample": False}
    greedy = model.generate(**inputs, num_beams=1, max_new_tokens=12, min_new_tokens=12)
    assert torch.equal(greedy, ref["greedy_ids"])
    beam = model.generate(**inputs, num_beams=4, max_new_tokens=12)
    assert torch.equal(beam, ref["beam4_ids"])


def test_kv_cache_matches_full_recompute():
    model, _ = load(FIXTURES / "parity_1b_style")
    ref = reference("parity_1b_style")
    inputs = {"input_ids": ref["input_ids"], "attention_mask": ref["attention_mask"], "do_sample": False}
    cached = model.generate(**inputs, num_beams=1, max_new_tokens=8, use_cache=True)
    uncached = model.generate(**inputs, num_beams=1, max_new_tokens=8, use_cache=False)
    assert torch.equal(cached, uncached)


def test_shared_and_separate_output_embeddings():
    dist, _ = load(FIXTURES / "parity_dist200m_style")
    one_b, _ = load(FIXTURES / "parity_1b_style")
    assert dist.lm_head.weight.data_ptr() == dist.model.decoder.embed_tokens.weight.data_ptr()
    assert one_b.lm_head.weight.data_ptr() != one_b.model.decoder.embed_tokens.weight.data_ptr()
    assert dist.model.encoder.layernorm_embedding is not None and one_b.model.encoder.layernorm_embedding is None


@pytest.mark.parametrize("style", STYLES)
def test_save_and_reload_safetensors_and_bin(style, tmp_path):
    model, _ = load(FIXTURES / style)
    ref = reference(style)
    inputs = {"input_ids": ref["input_ids"], "attention_mask": ref["attention_mask"]}
    expected = model.generate(**inputs, num_beams=2, max_new_tokens=6)

    model.save_pretrained(tmp_path / "st")
    assert (tmp_path / "st" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "st" / "config.json").read_text())["model_type"] == "IndicTrans"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copyfile(FIXTURES / style / "config.json", bin_dir / "config.json")
    torch.save(model.state_dict(), bin_dir / "pytorch_model.bin")
    for path in (tmp_path / "st", bin_dir):
        reloaded, info = load(path)
        assert not info["missing_keys"] and not info["unexpected_keys"]
        assert torch.equal(reloaded.generate(**inputs, num_beams=2, max_new_tokens=6), expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_loads_and_generates(dtype):
    model, _ = load(FIXTURES / "parity_dist200m_style", dtype=dtype, attn_implementation="sdpa")
    assert model.dtype == dtype and model.model.encoder.embed_positions.weights.dtype == dtype
    ref = reference("parity_dist200m_style")
    out = model.generate(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], num_beams=3, max_new_tokens=5)
    assert out.shape[0] == ref["input_ids"].shape[0] and out.shape[1] <= 6
    assert int(out.max()) < model.config.decoder_vocab_size


@pytest.mark.parametrize("repo", ["indictrans2-indic-en-dist-200M", "indictrans2-indic-en-1B"])
def test_published_configs_build_without_remote_code(repo):
    config = AutoConfig.from_pretrained(FIXTURES / "published_layout" / repo)
    assert isinstance(config, IndicTransConfig)
    assert not hasattr(config, "auto_map")
    assert config.tie_word_embeddings == config.share_decoder_input_output_embed
    with torch.device("meta"):
        model = AutoModelForSeq2SeqLM.from_config(config)
    assert isinstance(model, IndicTransForConditionalGeneration)
    assert model.model.encoder.embed_tokens.num_embeddings == 122706
    assert model.lm_head.out_features == 32296
    expected_params = {"indictrans2-indic-en-dist-200M": 0.2e9, "indictrans2-indic-en-1B": 1.0e9}[repo]
    assert 0.8 * expected_params < model.num_parameters() < 1.3 * expected_params
