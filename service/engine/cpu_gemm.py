"""float32 linear layers on the CPU through oneDNN, with each weight packed once in oneDNN's blocked layout.

torch's CPU ``F.linear`` calls MKL. On the AMD EPYC machine of docs/BENCHMARKS.md, MKL runs the few-row products of
decoding (one row per beam) far below memory bandwidth, while oneDNN, which ships inside torch, streams them at it:
mT5's 250 112 × 768 output layer for 4 beams took 109 ms with MKL, 34 ms through oneDNN and 24 ms with the weight
packed; one 4-beam mT5 summary 5.85 s → 2.26 s, the same tokens (``scripts/cpu_gemm_benchmark.py``). Results agree
with MKL's to float32 rounding (summation order). ``SUMMARIZER_CPU_GEMM=default`` keeps torch's own kernels.
"""

import ctypes
import logging
import mmap
import sys

import torch
from torch import nn

log = logging.getLogger(__name__)

# A layout hint for the packing, not a limit: any row count works. Below 4 oneDNN keeps the plain layout, which
# loses the gain (measured at 1, 4, 32 and 512 rows: 4 and above pack alike).
PACK_FOR_ROWS = 64

MADV_PAGEOUT = 21  # Linux 5.4+
try:
    _libc = ctypes.CDLL(None) if sys.platform == "linux" else None
except OSError:
    _libc = None


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def pack(weight: torch.Tensor) -> torch.Tensor:
    """A dense ``[out, in]`` weight in oneDNN's packed layout (``to_dense()`` gives it back)."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), PACK_FOR_ROWS)


def kernel(weight: torch.Tensor, bias: torch.Tensor | None):
    """The layer as a function, without a module call (the decoder calls it for every token); ``weight`` packed, or
    dense (oneDNN unpacked)."""
    return lambda x: _linear(x, weight, bias)


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
                release_pages(child.weight)
                swapped += 1
    return swapped



def release_pages(tensor: torch.Tensor) -> None:
    """Ask Linux to reclaim the tensor's resident pages (``MADV_PAGEOUT`` never changes contents: a file's pages are
    read again on access, anonymous ones stay or go to swap).

    A checkpoint's tensors are views of its memory-mapped file, which stays mapped while any weight of it is in use
    (the embeddings are). Packing reads a layer's pages in; without this they stay resident beside the packed copy
    (bench models, both on torch: 5.0 GiB at the peak instead of 2.9)."""
    start = tensor.data_ptr()
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages inside the tensor only
    last = (start + tensor.numel() * tensor.element_size()) // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first and _libc is not None:
        _libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), MADV_PAGEOUT)  # a hint: errors ignored
