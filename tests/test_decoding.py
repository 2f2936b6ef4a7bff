"""service.engine.decoding against transformers' generate: the same tokens, padding and lengths, on fresh copies of
the tiny models (float32, CPU), including hypotheses that finish at different steps. Each case runs twice: with
eager steps, and with the fixed-shape steps that a GPU records as a CUDA graph (run eagerly here)."""

from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM

import service.translation  # noqa: F401 - registers IndicTrans2 with the Auto classes
from service.engine import decoding
from service.engine.decoding import decode, generate, generation_config, supported
from service.engine.graphs import StaticSteps


def load(tiny_models, name):
    return AutoModelForSeq2SeqLM.from_pretrained(tiny_models / name).eval()


def inputs(model, seed=3, rows=8, length=12):
    """Random sources, three of them 5 tokens shorter, padded as the model's tokenizer pads (IndicTrans2 on the
    left, mT5 on the right) with its pad id (IndicTrans2 reads positions from where the pad ids are)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 900, (rows, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[:3, :5] = 0
    if "t5" in model.config.model_type:
        mask = mask.flip(1)
    ids[mask == 0] = model.config.pad_token_id
    return {"input_ids": ids, "attention_mask": mask}


def with_eos_weight(model, factor):
    """An untied lm_head whose </s> row is scaled, so that hypotheses end after different numbers of steps."""
    eos = model.generation_config.eos_token_id
    head = torch.nn.Linear(model.lm_head.in_features, model.lm_head.out_features, bias=False)
    with torch.no_grad():
        head.weight.copy_(model.lm_head.weight)
        head.weight[eos] *= factor
    model.lm_head = head
    return model


def assert_same_as_generate(model, batch, **settings):
    assert supported(model, generation_config(model, settings))
    with torch.inference_mode():
        expected = model.generate(**batch, **settings)
        for static in (False, True):
            got = decode(model, batch, static=static, **settings)
            assert got.shape == expected.shape and torch.equal(got, expected), f"static={static}"
    return got


SETTINGS = [
    {"num_beams": 1, "max_new_tokens": 12},
    {"num_beams": 1, "max_new_tokens": 9, "min_new_tokens": 9, "no_repeat_ngram_size": 2},
    {"num_beams": 5, "max_new_tokens": 14},
    {"num_beams": 4, "max_new_tokens": 10, "min_new_tokens": 10},
    {"num_beams": 3, "max_length": 12, "min_length": 6, "length_penalty": 0.6, "no_repeat_ngram_size": 2},
]


@pytest.mark.parametrize("name", ["indictrans2", "mt5"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_same_tokens_as_generate(tiny_models, name, settings):
    model = load(tiny_models, name)
    assert_same_as_generate(model, inputs(model), **settings)


@pytest.mark.parametrize("factor", [3, 4])
@pytest.mark.parametrize(
    "settings",
    [
        {"num_beams": 1},
        {"num_beams": 4, "length_penalty": 0.6, "no_repeat_ngram_size": 2},  # the mT5 card's settings
        {"num_beams": 4, "length_penalty": 2.0},
        {"num_beams": 3, "early_stopping": True},
        {"num_beams": 3, "early_stopping": "never", "length_penalty": 1.5},
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()),
)
def test_hypotheses_ending_at_different_steps(tiny_models, factor, settings):
    model = with_eos_weight(load(tiny_models, "mt5"), factor)
    out = assert_same_as_generate(model, inputs(model), max_new_tokens=16, **settings)
    eos = model.generation_config.eos_token_id
    ended = [(row[1:] == eos).nonzero() for row in out]
    steps = {int(e[0]) if len(e) else None for e in ended}
    assert len(steps) > 1  # rows end at different steps (or run to the limit): the finishing rules are exercised


def test_card_settings_and_the_model_generation_config(tiny_models):
    """mT5's generation_config.json holds the card's settings (84 tokens: the key/value buffer grows past its first
    64 positions); with no call arguments both sides use them."""
    model = load(tiny_models, "mt5")
    assert model.generation_config.num_beams == 4 and model.generation_config.no_repeat_ngram_size == 2
    assert model.generation_config.max_length == 84
    out = assert_same_as_generate(model, inputs(model, seed=5))
    assert out.shape[1] == 84


def test_options_it_does_not_implement_go_to_generate(tiny_models, caplog):
    model = load(tiny_models, "indictrans2")
    settings = {"num_beams": 2, "max_new_tokens": 6, "repetition_penalty": 1.3}
    assert not supported(model, generation_config(model, settings))
    with torch.inference_mode(), caplog.at_level("WARNING", logger="service.engine.decoding"):
        assert torch.equal(decode(model, inputs(model), **settings), model.generate(**inputs(model), **settings))
    assert "does not implement repetition_penalty" in caplog.text


def test_decoder_names(tiny_models):
    """What SUMMARIZER_DECODER selects; "cuda-graphs" on a CPU runs the fixed-shape steps without graphs."""
    model = load(tiny_models, "mt5")
    settings = {"num_beams": 3, "max_new_tokens": 8, "do_sample": False}
    with torch.inference_mode():
        expected = generate(model, inputs(model), settings, "transformers")
        for decoder in ("fast", "cuda-graphs"):
            assert torch.equal(generate(model, inputs(model), settings, decoder), expected)
        with pytest.raises(ValueError, match="decoder must be one of"):
            generate(model, inputs(model), settings, "beam")


def test_auto_decoder_is_graphs_on_gpus_only():
    """SUMMARIZER_DECODER=auto (the default): cuda-graphs on CUDA devices (1.9x fast's step on an H200), fast on CPUs."""
    from service.engine.device import resolve_decoder

    assert resolve_decoder("auto", torch.device("cuda", 0)) == "cuda-graphs"
    assert resolve_decoder("auto", torch.device("cpu")) == "fast"
    assert resolve_decoder("transformers", torch.device("cuda", 0)) == "transformers"


def test_decode_step_bound_counts_every_weight_a_step_reads(tiny_models):
    """scripts/decode_step_bound.py: the decoder's layers and the output layer, not the embedding tables; int8 compute
    types count a byte per matrix element. (Its first GPU run counted packed CPU layers, which hold no parameters.)"""
    from scripts.decode_step_bound import weight_bytes

    model = load(tiny_models, "indictrans2")
    decoder = model.get_decoder()
    layers = sum(p.numel() for p in decoder.layers.parameters())
    norms = sum(p.numel() for n, p in decoder.named_parameters() if not n.startswith("layers.") and "embed" not in n)
    head = model.lm_head.weight.numel()
    assert weight_bytes(model, "bfloat16") == 2 * (layers + norms + head)
    matrices = sum(p.numel() for p in decoder.layers.parameters() if p.dim() == 2) + head
    assert weight_bytes(model, "int8_float16") == matrices + 2 * (layers + norms + head - matrices)
    from service.engine import cpu_gemm

    if cpu_gemm.available():
        cpu_gemm.pack_linears(model)
        with pytest.raises(ValueError, match="packed"):
            weight_bytes(model, "bfloat16")


def test_longer_than_the_position_table(tiny_models):
    """Past max_target_positions (256 here) IndicTrans2's sinusoidal table is extended, as transformers does."""
    model = load(tiny_models, "indictrans2")
    assert model.config.max_target_positions == 256
    settings = {"num_beams": 1, "max_new_tokens": 300, "min_new_tokens": 300}
    with torch.inference_mode():
        got = decode(model, inputs(model, rows=2), **settings)  # first: generate would extend the table for us
        assert torch.equal(got, model.generate(**inputs(model, rows=2), **settings))
    assert got.shape[1] == 301


class ReplayedSteps(StaticSteps):
    """CUDA-graph semantics on a CPU: each recording is a traced program (make_fx) that is replayed on the live
    buffers, so anything the step reads from Python instead of from its tensors stays frozen at recording time,
    as it would in a CUDA graph."""

    recordings: list[int] = []

    def __init__(self, steps, graphs):
        super().__init__(steps, graphs=False)
        self.graphs = True

    def _record(self):
        from torch.fx.experimental.proxy_tensor import make_fx

        program = make_fx(lambda tokens, position: self.steps.step(tokens, position))(self.tokens, self.position)
        ReplayedSteps.recordings.append(self.steps.capacity)

        def replay():
            self.logits = program(self.tokens, self.position)

        self.graph = SimpleNamespace(replay=replay)


@pytest.mark.parametrize(
    "name, settings",
    [
        ("indictrans2", {"num_beams": 4, "max_new_tokens": 12}),
        ("mt5", {"num_beams": 4, "max_length": 84, "no_repeat_ngram_size": 2, "length_penalty": 0.6}),
        ("mt5", {"num_beams": 1, "max_new_tokens": 70}),
    ],
)
def test_recorded_steps_replay_like_cuda_graphs(tiny_models, monkeypatch, name, settings):
    monkeypatch.setattr(decoding, "StaticSteps", ReplayedSteps)
    ReplayedSteps.recordings.clear()
    model = load(tiny_models, name)
    with torch.inference_mode():
        expected = model.generate(**inputs(model, rows=4), **settings)
        got = decoding.decode(model, inputs(model, rows=4), graphs=True, **settings)
    assert torch.equal(got, expected)
    # One recording per buffer size: up to 64 positions, then once more if the output grows past them.
    max_len = settings.get("max_length") or settings["max_new_tokens"] + 1
    grew = expected.shape[1] - 2 >= 64  # the last step wrote position length - 2
    assert ReplayedSteps.recordings == [min(max_len, 64)] + ([min(max_len, 128)] if grew else [])
    assert name == "indictrans2" or grew  # the mT5 cases do cross the first buffer


def test_fixed_shape_steps_never_see_unwritten_positions(tiny_models):
    """They attend over the whole buffer with zero weights past the current position: its unwritten part must be
    zeros (garbage such as NaN would survive the zero weights), also after the buffer grows."""
    from service.engine.decoder_steps import T5Steps

    model = load(tiny_models, "mt5")
    batch = inputs(model, rows=2)
    with torch.inference_mode():
        encoded = model.get_encoder()(**batch).last_hidden_state
        steps = T5Steps(model, encoded, batch["attention_mask"], num_beams=2, max_len=100)
        steps.cache.fill_(float("nan"))
        static = StaticSteps(steps, graphs=False)
        tokens = torch.zeros(4, dtype=torch.long)
        for t in range(70):  # past the first 64 positions: the buffer grows
            logits = static(tokens, t)
            assert torch.isfinite(logits).all(), t
            tokens = logits.argmax(-1)
    assert steps.capacity == 100


def test_bans_equal_transformers_processors():
    """In place, the same scores as transformers' processors: min length, min new tokens (eos banned while too
    short) and no-repeat n-grams (every token that would repeat an n-gram of the row), on rows built to repeat."""
    from transformers import GenerationConfig
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        MinLengthLogitsProcessor,
        MinNewTokensLengthLogitsProcessor,
        NoRepeatNGramLogitsProcessor,
    )

    generator = torch.Generator().manual_seed(0)
    eos = torch.tensor([2, 5])
    checked = 0
    for length in range(1, 14):
        for ngram in (2, 3):
            for min_length, min_new in ((0, 0), (9, 0), (0, 6)):
                config = GenerationConfig(min_length=min_length, min_new_tokens=min_new, no_repeat_ngram_size=ngram)
                ids = torch.randint(0, 6, (6, length), generator=generator)  # 6 words: n-grams repeat often
                scores = torch.randn(6, 40, generator=generator)
                expected = LogitsProcessorList([
                    MinLengthLogitsProcessor(min_length, eos.tolist()),
                    MinNewTokensLengthLogitsProcessor(decoding.PROMPT, min_new, eos.tolist()),
                    NoRepeatNGramLogitsProcessor(ngram),
                ])(ids, scores.clone())  # fmt: skip
                got = decoding.Bans(config, eos)(ids, scores)
                assert got.data_ptr() == scores.data_ptr() and torch.equal(got, expected)
                checked += int(torch.isinf(expected).any())
    assert checked > 40  # most cases did ban something


def test_t5_layout_with_scaled_decoder_outputs(tiny_models):
    """T5ForConditionalGeneration (gated, tied word embeddings) scales the decoder's output by d_model^-0.5 before
    the output layer; mT5 never does. The T5 layout's steps follow the model's own rule."""
    from transformers import T5Config, T5ForConditionalGeneration

    mt5 = load(tiny_models, "mt5")
    config = T5Config(**(mt5.config.to_dict() | {"tie_word_embeddings": True}))
    assert config.scale_decoder_outputs and not getattr(mt5.config, "scale_decoder_outputs", False)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config).eval()
    model.generation_config = mt5.generation_config
    assert_same_as_generate(model, inputs(model), num_beams=3, max_new_tokens=10)
