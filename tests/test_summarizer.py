"""mT5 input handling: whitespace as the model card, the 512-token limit and the long-article policies."""

import torch

from service.summarization.summarizer import normalize_whitespace

from .conftest import SEED_TEXT


def test_whitespace_is_normalized_as_the_model_card():
    assert normalize_whitespace("  एक\n\nदो \t तीन \n") == "एक दो तीन"


def test_short_article_is_one_untruncated_row(runtime):
    summarizer = runtime.pipeline.summarizer
    prepared = summarizer.prepare("भाजपा ने आज बैठक की।", "lead")
    assert len(prepared.rows) == 1 and not prepared.truncated
    assert prepared.rows[0][-1] == summarizer.tokenizer.eos_token_id
    assert prepared.input_tokens == len(prepared.rows[0])


def test_lead_policy_cuts_to_the_limit_and_says_so(runtime):
    summarizer = runtime.pipeline.summarizer
    long_text = "\n".join([SEED_TEXT] * 3)
    prepared = summarizer.prepare(long_text, "lead")
    assert prepared.truncated and prepared.input_tokens > summarizer.max_input_tokens
    assert len(prepared.rows) == 1 and len(prepared.rows[0]) == summarizer.max_input_tokens


def test_chunked_policy_covers_the_whole_article(runtime):
    summarizer = runtime.pipeline.summarizer
    long_text = "\n".join([SEED_TEXT] * 3)
    prepared = summarizer.prepare(long_text, "chunked")
    assert not prepared.truncated and len(prepared.rows) >= 3
    assert all(len(row) <= summarizer.max_input_tokens for row in prepared.rows)
    eos = summarizer.tokenizer.eos_token_id
    covered = sum(len(row) - 1 for row in prepared.rows)
    assert covered >= prepared.input_tokens - 1 - len(prepared.rows)  # nothing dropped (sentence joins may merge)
    assert all(row[-1] == eos for row in prepared.rows)
    summary = summarizer.summarize([long_text], "chunked")[0]
    assert isinstance(summary, str) and summary


def test_summaries_are_deterministic_and_batch_invariant(runtime):
    summarizer = runtime.pipeline.summarizer
    rows = [summarizer.prepare(t, "lead").rows[0] for t in (SEED_TEXT, "भाजपा ने आज बैठक की।")]
    together = summarizer.generate(rows)
    assert together == summarizer.generate(rows)
    assert together == [summarizer.generate([row])[0] for row in rows]


def test_output_embeddings_are_separate_as_in_the_published_checkpoint(runtime):
    model = runtime.pipeline.summarizer.model
    head = model.lm_head.weight
    if head.is_mkldnn:  # packed for oneDNN on CPU (service.engine.cpu_gemm): a copy of its own by construction
        head = head.to_dense()
    else:
        assert head.data_ptr() != model.shared.weight.data_ptr()
    assert not torch.equal(head, model.shared.weight)  # the checkpoint's own output layer, not the input embedding
