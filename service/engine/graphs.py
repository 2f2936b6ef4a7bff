"""Decoder steps with fixed shapes, replayed as a CUDA graph.

A decoding step launches a few hundred small kernels; on a GPU launching them takes longer than running them. With
tensor positions (``DecoderSteps.step(tokens, t_tensor)``) every step of a batch has the same shapes and reads its
position, tokens and self-attention mask from fixed buffers, so the step is recorded once as a CUDA graph and then
replayed with one launch per token. The graph is recorded again only when the key/value buffer doubles.

``StaticSteps(steps, graphs=False)`` runs the same fixed-shape step eagerly: that is how the CPU tests check it.
"""

import logging

import torch

log = logging.getLogger(__name__)


class StaticSteps:
    def __init__(self, steps, graphs: bool):
        self.steps = steps
        steps.fill_with_zeros()
        self.batch_size, self.num_beams = steps.batch_size, steps.num_beams
        device = steps.cache.device
        self.graphs = graphs and device.type == "cuda"
        self.position = torch.zeros(1, dtype=torch.long, device=device)
        self.tokens = torch.zeros(steps.rows, dtype=torch.long, device=device)
        self.graph = self.logits = None

    def __call__(self, tokens: torch.Tensor, t: int) -> torch.Tensor:
        steps = self.steps
        grew = steps.ensure_capacity(t)
        steps.open_position(t)
        self.position.fill_(t)
        self.tokens.copy_(tokens)
        if not self.graphs:
            return steps.step(self.tokens, self.position)
        if self.graph is None or grew:
            try:
                self._record()
            except Exception:  # noqa: BLE001 - a GPU or driver without graph support: decode eagerly instead
                log.exception("CUDA graph recording failed; this batch goes on without graphs")
                self.graphs = False
                return steps.step(self.tokens, self.position)
        self.graph.replay()
        return self.logits

    def reorder(self, rows: torch.Tensor, length: int) -> None:
        self.steps.reorder(rows, length)

    def _record(self) -> None:
        """Warm up on a side stream (as CUDA graphs require), then record. The warm-up computes this very step, and
        the replay that follows writes the same values again, so no state is disturbed."""
        self.graph = None
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self.steps.step(self.tokens, self.position)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the other model's worker thread keeps using the GPU while this one records.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self.logits = self.steps.step(self.tokens, self.position)
        self.graph = graph
