"""float32 linear layers on the CPU through oneDNN, with each weight packed once in oneDNN's blocked layout.

torch's CPU ``F.linear`` calls MKL. On the AMD EPYC machine of docs/BENCHMARKS.md, MKL runs the few-row products of
decoding (one row per beam) far below memory bandwidth, while oneDNN, which ships inside torch, streams them at it:
mT5's 250 112 × 768 output layer for 4 beams took 112 ms with MKL, 39 ms through oneDNN and 17 ms once the weight is
packed. The whole mT5 decoding step went from 172 ms to 79 ms with the same tokens. Results agree with MKL's to
float32 rounding (summation order). ``SUMMARIZER_CPU_GEMM=default`` keeps torch's own kernels.
"""

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)

# A layout hint for the packing, not a limit: any row count works. Below 4 oneDNN keeps the plain layout, which
# loses the gain (measured at 1, 4, 32 and 512 rows: 4 and above pack alike).
PACK_FOR_ROWS = 64


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def pack(weight: torch.Tensor) -> torch.Tensor:
    """A dense ``[out, in]`` weight in oneDNN's packed layout (``to_dense()`` gives it back)."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), PACK_FOR_ROWS)


def kernel(packed: torch.Tensor, bias: torch.Tensor | None):
    """The layer as a function, without a module call (the decoder calls it for every token)."""
    return lambda x: _linear(x, packed, bias)


class PackedLinear(nn.Module):
    """An ``nn.Linear`` whose weight lives only in oneDNN's packed layout (the dense copy is released).

    ``weight`` keeps the name and dtype transformers' layers read (T5 checks ``wo.weight.dtype``)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = pack(linear.weight)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _linear(x, self.weight, self.bias)


def available() -> bool:
    """oneDNN is in this torch build and its packed linear runs here (checked on a small layer)."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")):
        return False
    try:
        layer = nn.Linear(8, 4)
        with torch.inference_mode():
            return torch.allclose(PackedLinear(layer)(torch.ones(2, 8)), layer(torch.ones(2, 8)), atol=1e-5)
    except RuntimeError as exc:
        log.warning("oneDNN's packed linear does not run on this CPU (%s); keeping torch's kernels", exc)
        return False


def pack_linears(model: nn.Module) -> int:
    """Replace every float32 ``nn.Linear`` of a CPU model by a ``PackedLinear``; the number replaced."""
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear and child.weight.dtype == torch.float32 and child.weight.device.type == "cpu":
                setattr(parent, name, PackedLinear(child))
                swapped += 1
    return swapped
