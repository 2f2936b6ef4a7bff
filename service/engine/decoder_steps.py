"""One decoding step of IndicTrans2 (M2M100 layout) and mT5, without transformers' per-call machinery.

transformers' decoder forward builds masks, cache objects and output records on every call; with 18 (IndicTrans2) or
12 (mT5) layers that is 15–20 ms of Python per generated token on any device, which is what bounds a GPU. These
classes run the same weights through the same operations in the same order, calling the kernels directly, and keep:

* the decoder's own keys and values in one buffer per batch (``[layers, 2, rows, heads, capacity, d]``), written in
  place at each step, grown by doubling, and reordered for beam search with one ``index_select`` for all layers;
* the cross-attention keys and values once per source sentence, projected for all layers in one matrix product over
  the real (unpadded) source positions: all beams of a source attend to them as several query rows of one attention
  call, so nothing is repeated per beam and nothing of it is ever reordered.

``step(tokens, t)`` takes the position as an int (attention over the positions written so far) or as a one-element
tensor (attention over the whole buffer, later positions masked: every step has the same shapes, which is what a
CUDA graph needs, see ``graphs.py``). Parity with ``model.generate`` is tested in tests/test_decoding.py.
"""

import torch
import torch.nn.functional as F
from torch import nn

from . import cpu_gemm
from .beam_search import cross_attention_kv_projections


def linear(module):
    """The layer as a function: the kernel called directly (a module call costs as much as the kernel on small
    batches); the module itself for any other kind of layer."""
    if type(module) is nn.Linear:
        weight, bias = module.weight, module.bias
        return lambda x: F.linear(x, weight, bias)
    if type(module) is cpu_gemm.PackedLinear:
        return cpu_gemm.kernel(module.weight, module.bias)
    return module


def fused_linear(*modules):
    """Several projections of the same input as one matrix product (one kernel instead of three), when all are plain
    or all packed (then the concatenation is packed anew)."""
    kinds = {type(m) for m in modules}
    if kinds == {nn.Linear} or kinds == {cpu_gemm.PackedLinear}:
        packed = kinds == {cpu_gemm.PackedLinear}
        weight = torch.cat([m.weight.to_dense() if packed else m.weight for m in modules])
        bias = None if modules[0].bias is None else torch.cat([m.bias for m in modules])
        run = cpu_gemm.kernel(cpu_gemm.pack(weight), bias) if packed else lambda x: F.linear(x, weight, bias)
        sizes = [m.out_features for m in modules]
        return lambda x: run(x).split(sizes, dim=-1)
    return lambda x: [m(x) for m in modules]


def layer_norm(module):
    shape, weight, bias, eps = module.normalized_shape, module.weight, module.bias, module.eps
    return lambda x: F.layer_norm(x, shape, weight, bias, eps)


def rms_norm(module):
    """T5's layer norm, operation for operation (variance in float32; back to half precision before the weight)."""
    weight, eps = module.weight, module.variance_epsilon
    half = weight.dtype in (torch.float16, torch.bfloat16)

    def norm(x):
        x = x * torch.rsqrt(x.to(torch.float32).pow(2).mean(-1, keepdim=True) + eps)
        return weight * (x.to(weight.dtype) if half else x)

    return norm


def plan(model, build):
    """Per-model functions built once (fused weights are copies: built again only if the model is replaced): the
    layout's own from ``build``, and those every layout has (cross-attention keys/values, output layer)."""
    cached = getattr(model, "_decoder_plan", None)
    if cached is None:
        cached = build(model) | {
            "cross_kv": fused_linear(*cross_attention_kv_projections(model)),  # k, v of each layer in turn
            "lm_head": linear(model.lm_head),
        }
        model._decoder_plan = cached
    return cached


class DecoderSteps:
    """State of one batch being decoded: ``step(tokens, t)`` → logits; ``reorder(rows, length)`` after beams move."""

    def __init__(self, encoder_states, encoder_mask, num_beams: int, max_len: int, heads: int, head_dim: int):
        self.batch_size, self.num_beams, self.max_len = encoder_states.shape[0], num_beams, max_len
        self.heads, self.head_dim = heads, head_dim
        self.rows = self.batch_size * num_beams
        # Cross-attention keys and values of every layer, one matrix product over the real source positions only
        # (padding is masked out; it keeps zeros).
        real = encoder_mask.bool()
        projected = []
        for values in self.plan["cross_kv"](encoder_states[real]):
            padded = values.new_zeros((*real.shape, values.shape[-1]))
            padded[real] = values
            projected.append(self._source_heads(padded))
        self.cross = list(zip(projected[::2], projected[1::2]))
        shape = (len(self.cross), 2, self.rows, heads, min(max_len, 64), head_dim)
        self.cache = encoder_states.new_empty(shape)
        self.zero_filled = False  # see fill_with_zeros
        self.self_mask = None  # additive mask over the buffer for tensor positions (0 up to t, -inf after)

    def __call__(self, tokens: torch.Tensor, t: int) -> torch.Tensor:
        """Logits for the tokens at position t (eager: attention over the positions written so far)."""
        self.ensure_capacity(t)
        return self.step(tokens, t)

    @property
    def capacity(self) -> int:
        return self.cache.shape[4]

    def ensure_capacity(self, t: int) -> bool:
        """Room for position t (the buffer doubles, up to max_len); True when it had to grow."""
        if t < self.capacity:
            return False
        allocate = self.cache.new_zeros if self.zero_filled else self.cache.new_empty
        grown = allocate((*self.cache.shape[:4], min(self.max_len, 2 * self.capacity), self.head_dim))
        grown[:, :, :, :, :t] = self.cache[:, :, :, :, :t]
        self.cache = grown
        return True

    def fill_with_zeros(self) -> None:
        """For fixed-shape steps, which multiply the unwritten positions by zero weights (NaN · 0 would be NaN);
        eager steps never read them, so they skip this pass over the buffer."""
        self.cache.zero_()
        self.zero_filled = True

    def open_position(self, t: int) -> None:
        """Before a step with a tensor position: the mask over the whole buffer lets it see positions up to t."""
        if self.self_mask is None or self.self_mask.shape[-1] != self.capacity:
            self.self_mask = torch.full((1, 1, 1, self.capacity), float("-inf"), dtype=self.cache.dtype,
                                        device=self.cache.device)  # fmt: skip
            self.self_mask[..., :t] = 0
        self.self_mask[..., t] = 0

    def reorder(self, rows: torch.Tensor, length: int) -> None:
        """Row i of the cache becomes row ``rows[i]`` (positions up to ``length`` only: later ones are unwritten)."""
        live = self.cache[:, :, :, :, :length]
        live.copy_(live.index_select(2, rows))

    def _self_attention(self, i: int, q, k, v, t, scale: float, bias=None) -> torch.Tensor:
        n, h, d = self.rows, self.heads, self.head_dim
        keys, values = self.cache[i, 0], self.cache[i, 1]
        if isinstance(t, int):
            keys[:, :, t] = k.reshape(n, h, d)
            values[:, :, t] = v.reshape(n, h, d)
            keys, values = keys[:, :, : t + 1], values[:, :, : t + 1]
        else:
            keys.index_copy_(2, t, k.reshape(n, h, 1, d))
            values.index_copy_(2, t, v.reshape(n, h, 1, d))
            bias = self.self_mask if bias is None else bias + self.self_mask
        out = F.scaled_dot_product_attention(q.reshape(n, h, 1, d), keys, values, attn_mask=bias, scale=scale)
        return out.reshape(n, h * d)

    def _cross_attention(self, q, keys, values, mask, scale: float) -> torch.Tensor:
        """Beams of one source as query rows: q [rows, heads·d] → [batch, heads, beams, d] against the source's K/V."""
        b, n = self.batch_size, self.num_beams
        q = q.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=scale)
        return out.transpose(1, 2).reshape(b * n, -1)

    def _source_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, source_len, heads·d] → [batch, heads, source_len, d]."""
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)


def _m2m100_plan(model):
    decoder = model.get_decoder()
    layers = []
    for layer in decoder.layers:
        a, c = layer.self_attn, layer.encoder_attn
        layers.append((
            layer_norm(layer.self_attn_layer_norm), fused_linear(a.q_proj, a.k_proj, a.v_proj), linear(a.out_proj),
            layer_norm(layer.encoder_attn_layer_norm), linear(c.q_proj), linear(c.out_proj),
            layer_norm(layer.final_layer_norm), linear(layer.fc1), layer.activation_fn, linear(layer.fc2),
        ))  # fmt: skip
    embedding_norm = decoder.layernorm_embedding
    return {
        "layers": layers, "scaling": decoder.layers[0].self_attn.scaling,
        "embedding_norm": layer_norm(embedding_norm) if embedding_norm is not None else None,
        "final_norm": layer_norm(decoder.layer_norm),
    }  # fmt: skip


class M2M100Steps(DecoderSteps):
    """IndicTrans2 (and M2M100): pre-norm layers, sinusoidal positions, optional layernorm_embedding."""

    def __init__(self, model, encoder_states, encoder_mask, num_beams: int, max_len: int):
        self.decoder = model.get_decoder()
        self.plan = plan(model, _m2m100_plan)
        self.pad = model.config.pad_token_id
        attention = self.decoder.layers[0].self_attn
        super().__init__(encoder_states, encoder_mask, num_beams, max_len, attention.num_heads, attention.head_dim)
        self.mask = encoder_mask.bool()[:, None, None, :]
        positions = self.decoder.embed_positions
        needed = self.pad + 1 + max_len
        if positions.weights.shape[0] < needed:  # what transformers' forward does past max_target_positions
            positions.make_weights(needed + positions.offset, positions.embedding_dim, positions.padding_idx)

    def step(self, tokens: torch.Tensor, t) -> torch.Tensor:
        p, decoder, scale = self.plan, self.decoder, self.plan["scaling"]
        x = decoder.embed_tokens(tokens)
        # M2M100's positions: a pad token keeps the (zero) padding position, others count from padding_idx + 1.
        positions = torch.where(tokens == self.pad, self.pad, t + 1 + self.pad)
        x = x + decoder.embed_positions.weights.index_select(0, positions)
        if p["embedding_norm"] is not None:
            x = p["embedding_norm"](x)
        for i, (norm1, qkv, out1, norm2, q2, out2, norm3, fc1, act, fc2) in enumerate(p["layers"]):
            x = x + out1(self._self_attention(i, *qkv(norm1(x)), t, scale))
            x = x + out2(self._cross_attention(q2(norm2(x)), *self.cross[i], self.mask, scale))
            x = x + fc2(act(fc1(norm3(x))))
        return p["lm_head"](p["final_norm"](x))


def output_projection(wo):
    """T5's feed-forward output layer with transformers' rule: its weight's dtype wins (mT5 checkpoints may keep it
    in float32), except for int8 weights; quantized layers take their input as it is."""
    project = linear(wo)
    weight = getattr(wo, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dtype == torch.int8:
        return project
    dtype = weight.dtype
    return lambda h: project(h if h.dtype == dtype else h.to(dtype))


def _t5_plan(model):
    decoder = model.get_decoder()
    blocks = []
    for block in decoder.block:
        a, c, ff = block.layer[0].SelfAttention, block.layer[1].EncDecAttention, block.layer[2].DenseReluDense
        if not hasattr(ff, "wi_0"):
            raise TypeError("only gated feed-forward layers (mT5, T5 v1.1) are supported")
        blocks.append((
            rms_norm(block.layer[0].layer_norm), fused_linear(a.q, a.k, a.v), linear(a.o),
            rms_norm(block.layer[1].layer_norm), linear(c.q), linear(c.o),
            rms_norm(block.layer[2].layer_norm), fused_linear(ff.wi_0, ff.wi_1), ff.act, output_projection(ff.wo),
        ))  # fmt: skip
    # T5ForConditionalGeneration with tied word embeddings scales the decoder's output before the output layer;
    # MT5's configuration has no such flag (mT5 never scales).
    scale = model.config.d_model**-0.5 if getattr(model.config, "scale_decoder_outputs", False) else None
    return {"blocks": blocks, "final_norm": rms_norm(decoder.final_layer_norm), "output_scale": scale}


class T5Steps(DecoderSteps):
    """mT5 (and T5 v1.1): RMS norms, relative position bias from the first layer, unscaled attention."""

    def __init__(self, model, encoder_states, encoder_mask, num_beams: int, max_len: int):
        self.decoder = model.get_decoder()
        self.plan = plan(model, _t5_plan)
        first = self.decoder.block[0].layer[0].SelfAttention
        super().__init__(encoder_states, encoder_mask, num_beams, max_len, first.n_heads, first.key_value_proj_dim)
        dtype = encoder_states.dtype
        # What transformers adds for cross-attention: a zero position bias, and the dtype's minimum where padded.
        self.mask = torch.zeros(encoder_mask.shape, dtype=dtype, device=encoder_mask.device).masked_fill(
            ~encoder_mask.bool(), torch.finfo(dtype).min
        )[:, None, None, :]
        # Self-attention bias of every (query, key) position pair up to max_len, sliced per step.
        self.position_bias = first.compute_bias(max_len, max_len, device=encoder_states.device)

    @staticmethod
    def _clamp(x: torch.Tensor) -> torch.Tensor:
        """transformers' float16 overflow guard after each sub-layer (a no-op in other dtypes)."""
        if x.dtype != torch.float16:
            return x
        top = torch.where(torch.isinf(x).any(), torch.finfo(x.dtype).max - 1000, torch.finfo(x.dtype).max)
        return torch.clamp(x, min=-top, max=top)

    def _bias(self, t):
        if isinstance(t, int):
            return self.position_bias[:, :, t : t + 1, : t + 1].contiguous()
        return self.position_bias.index_select(2, t)[:, :, :, : self.capacity]

    def step(self, tokens: torch.Tensor, t) -> torch.Tensor:
        p, clamp = self.plan, self._clamp
        x = self.decoder.embed_tokens(tokens)
        bias = self._bias(t)
        for i, (norm1, qkv, out1, norm2, q2, out2, norm3, wi, act, wo) in enumerate(p["blocks"]):
            x = clamp(x + out1(self._self_attention(i, *qkv(norm1(x)), t, 1.0, bias)))
            x = clamp(x + out2(self._cross_attention(q2(norm2(x)), *self.cross[i], self.mask, 1.0)))
            gate, up = wi(norm3(x))
            x = clamp(x + wo(act(gate) * up))
        x = p["final_norm"](x)
        if p["output_scale"] is not None:
            x = x * p["output_scale"]
        return p["lm_head"](x)


def decoder_steps_for(model):
    """The step class for a model's decoder layout, or None when it has none (then transformers' generate is used)."""
    decoder = model.get_decoder()
    if hasattr(decoder, "layers") and hasattr(decoder, "embed_positions"):
        if all(layer.self_attn.__class__.__name__ == "M2M100Attention" for layer in decoder.layers):
            return M2M100Steps
    if hasattr(decoder, "block") and getattr(model.config, "is_gated_act", False):
        return T5Steps
    return None
