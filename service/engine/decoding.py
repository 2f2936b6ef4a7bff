"""``generate`` for our two models, with transformers' decoding rules and without its per-step overhead.

``decode(model, batch, **settings)`` returns what ``model.generate(**batch, **settings)`` returns (same tokens, same
padding, same length) for greedy search and beam search with the options the service uses: ``num_beams``,
``max_length``/``max_new_tokens``, ``min_length``/``min_new_tokens``, ``no_repeat_ngram_size``, ``length_penalty``,
``early_stopping``. The beam search below is transformers' own (v5, vectorized: top 2·beams candidates, finished
hypotheses kept with length-penalized scores, its early-stop heuristic) written out step by step; its three logits
rules are transformers' processors applied in place (``Bans``). The model steps come from ``decoder_steps``, the
encoder runs in length groups (``encoding``). Any other option, or a model layout without steps, goes to
``model.generate`` unchanged.
"""

import logging

import torch
from transformers import GenerationConfig

from .beam_search import beams
from .decoder_steps import decoder_steps_for
from .encoding import encode
from .graphs import StaticSteps

# Options this decoder implements; any other option set away from its default goes to transformers' generate.
SUPPORTED = {
    "num_beams", "max_length", "max_new_tokens", "min_length", "min_new_tokens", "no_repeat_ngram_size",
    "length_penalty", "early_stopping", "do_sample", "use_cache",
    "bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "transformers_version",
}
_DEFAULTS = GenerationConfig._get_default_generation_params()
_reported: set[tuple[str, ...]] = set()  # fallbacks already logged
PROMPT = 1  # the decoder prompt: the start token alone
log = logging.getLogger(__name__)


def generation_config(model, settings: dict) -> GenerationConfig:
    """The settings ``generate`` would use: call arguments over the model's generation config over the defaults."""
    return model._prepare_generation_config(None, **settings)[0]


def unsupported(model, config: GenerationConfig) -> list[str]:
    """Why the loop below cannot decode this: options it does not implement, or a model layout without steps."""
    if decoder_steps_for(model) is None:
        return [f"model layout {type(model).__name__}"]
    if config.do_sample:
        return ["do_sample"]
    options = config.to_dict().items()
    return [k for k, v in options if k[0] != "_" and k not in SUPPORTED and not _unset(v, _DEFAULTS.get(k))]


def supported(model, config: GenerationConfig) -> bool:
    return not unsupported(model, config)


def _unset(value, default) -> bool:
    return value == default or (value in (None, False) and default in (None, False))


DECODERS = ("fast", "cuda-graphs", "transformers")


def generate(model, batch: dict[str, torch.Tensor], settings: dict, decoder: str = "fast") -> torch.Tensor:
    """``decoder``: "fast" (``decode`` below), "cuda-graphs" (``decode`` with each step replayed as a CUDA graph on
    a GPU; the same as "fast" on a CPU) or "transformers" (the model cards' ``model.generate``)."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, not {decoder!r}")
    if decoder == "transformers":
        return _model_generate(model, batch, settings)
    return decode(model, batch, graphs=decoder == "cuda-graphs", **settings)


def _model_generate(model, batch: dict[str, torch.Tensor], settings: dict) -> torch.Tensor:
    """transformers' generate, with the beam-search shortcuts of ``beam_search.py`` where the model has them."""
    with beams(model, settings.get("num_beams") or model.generation_config.num_beams or 1):
        return model.generate(**batch, **settings)


def decode(model, batch: dict[str, torch.Tensor], graphs: bool = False, static: bool | None = None, **settings):
    """Output ids as ``model.generate`` gives them (decoder start token first), on the model's device.

    ``graphs``: replay each step as a CUDA graph (on CUDA devices); ``static``: fixed-shape steps (implied by
    ``graphs``; on its own it runs them eagerly, which is how the CPU tests check what the graphs record)."""
    config = generation_config(model, settings)
    missing = unsupported(model, config)
    if missing:
        if tuple(missing) not in _reported:
            _reported.add(tuple(missing))
            log.warning("decoding with model.generate: the service decoder does not implement %s", ", ".join(missing))
        return _model_generate(model, batch, settings)
    eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    start = config.decoder_start_token_id
    if start is None:
        start = model.config.decoder_start_token_id
    max_length = config.max_new_tokens + PROMPT if config.max_new_tokens is not None else config.max_length
    encoder_states = encode(model, batch)
    steps = decoder_steps_for(model)(model, encoder_states, batch["attention_mask"], config.num_beams, max_length)
    if graphs or static:
        steps = StaticSteps(steps, graphs)
    eos = torch.tensor(eos, device=encoder_states.device)
    bans = Bans(config, eos)
    if config.num_beams == 1:
        return _greedy(steps, start, eos, config.pad_token_id, max_length, bans)
    return _beam_search(steps, start, eos, config, max_length, bans)


class Bans:
    """transformers' MinLength, MinNewTokensLength and NoRepeatNGram logits processors, applied in place: -inf where
    they put -inf, and no other change. Theirs copy the rows × vocabulary scores once per rule and step, which for
    mT5's 250 112 words and 16 articles × 4 beams is 64 MB each time. Checked against them in tests/test_decoding.py.
    The n-gram bans go through ``scatter_reduce`` (a minimum with -inf or +inf), so no step waits for the device."""

    def __init__(self, config: GenerationConfig, eos: torch.Tensor):
        self.min_length, self.min_new_tokens = config.min_length or 0, config.min_new_tokens or 0
        self.ngram, self.eos = config.no_repeat_ngram_size or 0, eos
        self.eos_columns = None  # the eos ids within the scores' width, found once

    def __call__(self, ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length, vocab = ids.shape[-1], scores.shape[-1]
        if length < self.min_length or length - PROMPT < self.min_new_tokens:
            if self.eos_columns is None:
                self.eos_columns = self.eos[self.eos < vocab]
            scores[:, self.eos_columns] = float("-inf")
        n = self.ngram
        if n and length >= n:
            # A window of n tokens whose first n - 1 equal the last n - 1 generated bans its own last token.
            windows = ids.unfold(1, n, 1)
            matches = (windows[..., :-1] == ids[:, length + 1 - n :].unsqueeze(1)).all(dim=-1)
            tokens = windows[..., -1]
            limit = torch.where(matches & (tokens < vocab), float("-inf"), float("inf")).to(scores.dtype)
            scores.scatter_reduce_(1, tokens.clamp(max=vocab - 1), limit, reduce="amin")
        return scores


def _greedy(steps, start: int, eos: torch.Tensor, pad: int | None, max_length: int, bans: Bans) -> torch.Tensor:
    """transformers' ``_sample`` without sampling: finished rows continue with pad until all are done."""
    pad = eos[0] if pad is None else pad
    ids = torch.full((steps.batch_size, 1), start, device=eos.device)
    unfinished = torch.ones(steps.batch_size, dtype=torch.long, device=eos.device)
    while True:
        t = ids.shape[1] - 1
        logits = steps(ids[:, -1], t).float()
        tokens = bans(ids, logits).argmax(-1)
        tokens = tokens * unfinished + pad * (1 - unfinished)
        ids = torch.cat([ids, tokens[:, None]], dim=1)
        unfinished = unfinished & ~torch.isin(tokens, eos)
        if ids.shape[1] >= max_length or unfinished.max() == 0:
            return ids


def _beam_search(steps, start: int, eos: torch.Tensor, config, max_length: int, bans: Bans) -> torch.Tensor:
    """transformers' ``_beam_search`` (v5), same tensors and order of operations, for one decoder start token."""
    b, n, device = steps.batch_size, config.num_beams, eos.device
    length_penalty, early_stopping = config.length_penalty, config.early_stopping
    keep = max(2, 1 + eos.numel()) * n
    top_n = torch.arange(keep, device=device) < n
    fill = config.pad_token_id or int(eos[0])  # transformers' fill value: pad unless pad is 0, then eos
    running = torch.full((b, n, max_length), fill, dtype=torch.long, device=device)
    running[:, :, 0] = start
    sequences = running.clone()
    lengths = torch.zeros((b, n), dtype=torch.long, device=device)  # generated tokens of each finished hypothesis
    running_scores = torch.zeros((b, n), device=device)
    running_scores[:, 1:] = -1e9
    scores = torch.full((b, n), -1e9, device=device)
    finished = torch.zeros((b, n), dtype=torch.bool, device=device)
    improvable = torch.ones((b, 1), dtype=torch.bool, device=device)
    offsets = torch.arange(b, device=device)[:, None] * n
    cur_len = PROMPT
    while True:
        flat = running[:, :, :cur_len].reshape(b * n, cur_len)
        log_probs = torch.log_softmax(steps(flat[:, -1], cur_len - 1).float(), dim=-1)
        log_probs = bans(flat, log_probs)
        vocab = log_probs.shape[-1]
        log_probs = log_probs.view(b, n, vocab).add_(running_scores[:, :, None]).view(b, n * vocab)

        top_scores, top_indices = torch.topk(log_probs, k=keep)
        source_beams = top_indices // vocab
        candidates = torch.take_along_dim(running, source_beams[:, :, None], dim=1)
        candidates[:, :, cur_len] = top_indices % vocab
        done = torch.isin(candidates[:, :, cur_len], eos) | (cur_len + 1 >= max_length)

        # Beams that go on: the best `n` candidates that did not just finish.
        going_on = top_scores + done.to(torch.float32) * -1.0e9
        chosen = torch.topk(going_on, k=n)[1]
        running = torch.take_along_dim(candidates, chosen[:, :, None], dim=1)
        running_scores = torch.take_along_dim(going_on, chosen, dim=1)
        parents = torch.take_along_dim(source_beams, chosen, dim=1)

        # Finished hypotheses: the best `n` of those kept so far and those (among the top n) that just finished.
        just_finished = done & top_n[None, :]
        final_scores = top_scores / ((cur_len + 1 - PROMPT) ** length_penalty)
        all_finished = torch.all(finished, dim=-1, keepdim=True)
        final_scores += (all_finished & (early_stopping is True)).to(torch.float32) * -1.0e9
        final_scores += (~improvable).to(torch.float32) * -1.0e9
        final_scores += (~just_finished) * -1.0e9
        merged = torch.topk(torch.cat((scores, final_scores), dim=1), k=n)[1]
        sequences = torch.take_along_dim(torch.cat((sequences, candidates), dim=1), merged[:, :, None], dim=1)
        scores = torch.take_along_dim(torch.cat((scores, final_scores), dim=1), merged, dim=1)
        new_lengths = torch.full_like(top_scores, cur_len, dtype=torch.long)
        lengths = torch.take_along_dim(torch.cat((lengths, new_lengths), dim=1), merged, dim=1)
        finished = torch.take_along_dim(torch.cat((finished, just_finished), dim=1), merged, dim=1)

        steps.reorder((parents + offsets).view(-1), cur_len)
        cur_len += 1
        if early_stopping == "never" and length_penalty > 0.0:
            best_length = max_length - PROMPT
        else:
            best_length = cur_len - PROMPT
        best_running = running_scores[:, :1] / (best_length**length_penalty)
        worst_finished = torch.where(finished, torch.min(scores, dim=1, keepdim=True)[0], -1.0e9)
        improvable = improvable & torch.any(best_running > worst_finished, dim=-1, keepdim=True)
        go_on = torch.any(improvable) & ~(torch.all(finished) & (early_stopping is True)) & ~torch.all(done)
        if not go_on:
            break
    best = sequences[:, 0]
    return best[:, : PROMPT + int(lengths[:, 0].max())]
