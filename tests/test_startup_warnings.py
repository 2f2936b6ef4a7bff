"""Start-up says nothing alarming that is expected: mT5's untied output layer and a greedy warm-up's length penalty
made transformers warn on every start. Only those two messages go; transformers' other warnings stay."""

import logging
from contextlib import contextmanager

import pytest
import torch

from service.engine.decoding import generation_config
from service.summarization import summarizer as summarization


@contextmanager
def transformers_records():
    """Every record transformers' loggers let through (its root logger does not propagate to ours)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def test_mt5_loads_with_its_own_output_layer_and_no_tie_warning(tiny_models):
    with transformers_records() as records:
        model = summarization.load_summarizer(tiny_models / "mt5", torch.device("cpu"), torch.float32).model
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()  # as published: untied
    assert [r.getMessage() for r in records if "tie" in r.getMessage()] == []


def test_only_the_expected_tie_message_is_dropped():
    expected = ("The tied weights mapping and config for this model specifies to tie shared.weight to lm_head.weight, "
                "but both are present in the checkpoints with different values, so we will NOT tie them.")  # fmt: skip
    other = expected.replace("shared.weight", "model.decoder.embed_tokens.weight")
    logger = logging.getLogger("transformers.modeling_utils")
    with transformers_records() as records:
        with summarization.untied_lm_head_expected():
            logger.warning(expected)
            logger.warning(other)
            logger.warning("Some weights of the model checkpoint were not used")
        logger.warning(expected)  # outside mT5's loading it stays
    assert [r.getMessage() for r in records] == [other, "Some weights of the model checkpoint were not used", expected]


@pytest.mark.parametrize("beams", [1, 2, 4])
def test_the_cards_settings_are_valid_for_transformers_at_any_beam_count(runtime, beams):
    model = runtime.pipeline.summarizer.model
    config = generation_config(model, summarization.card_settings(beams, {}))
    config.validate(strict=True)  # raises on any flag transformers would warn of


def test_a_greedy_summary_makes_transformers_warn_of_nothing(runtime):
    summarizer = runtime.pipeline.summarizer
    row = summarizer.prepare("प्रधानमंत्री ने आज नई दिल्ली में एक बैठक की।").rows[0]
    logging.Logger.warning_once.cache_clear()  # transformers warns once per process: let this call be the first
    with transformers_records() as records:
        summarizer.generate_ids([row], num_beams=1, max_length=6)
    assert [r.getMessage() for r in records] == []
