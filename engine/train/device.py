"""Where a run trains: the device, and how many CPU threads torch uses for it."""

from __future__ import annotations

import torch
from torch import nn


def resolve_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was requested but no CUDA device is available (set device=cpu)")
        return torch.device("cuda")
    return torch.device("cpu")


_DEFAULT_THREADS = torch.get_num_threads()
SMALL_STEP_WORK = 20_000_000  # parameters × batch size below which one CPU thread is fastest


def choose_threads(requested: int, device: torch.device, model: nn.Module, batch_size: int) -> int:
    """Set torch's CPU threads for a run: the requested count, or (0 = auto) one thread for
    small models — their ops are too small to split, and extra threads only spin and fight
    the GUI for the cores (beside the window one thread trains the default experiment
    faster than two, and as fast headless: tests/benchmarks/bench_gui_training.py) — else
    torch's default."""
    if device.type != "cpu":
        return torch.get_num_threads()
    if requested:
        n = requested
    else:
        work = sum(p.numel() for p in model.parameters()) * batch_size
        n = 1 if work < SMALL_STEP_WORK else _DEFAULT_THREADS
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
