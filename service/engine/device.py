"""Device and dtype choice, CPU threads and optional int8 quantization: decided once at start-up."""

import logging
import os

import torch

log = logging.getLogger(__name__)


def resolve_device(setting: str) -> torch.device:
    """``auto`` → the first CUDA GPU when there is one, else the CPU."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"SUMMARIZER_DEVICE={setting} but no CUDA GPU is visible to torch")
    return device


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    """``auto`` → bfloat16 on GPUs that have it (Ampere and newer), float16 on older ones, float32 on CPU."""
    if setting != "auto":
        return getattr(torch, setting)
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def resolve_decoder(setting: str, device: torch.device) -> str:
    """``auto`` → ``cuda-graphs`` on a GPU (each step one graph replay: the step is bound by kernel launches there),
    ``fast`` elsewhere (a CPU gains nothing from fixed-shape steps)."""
    if setting != "auto":
        return setting
    return "cuda-graphs" if device.type == "cuda" else "fast"


def summarizer_dtype(dtype: torch.dtype) -> torch.dtype:
    """mT5 overflows in float16 (its activations exceed 65504 and turn into NaN): keep it in float32 there."""
    return torch.float32 if dtype == torch.float16 else dtype


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure_cpu(threads: int | None) -> int:
    """Give torch one intra-op thread per available core (or the configured number)."""
    threads = threads or available_cores()
    torch.set_num_threads(threads)
    return threads

