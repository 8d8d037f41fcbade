"""Where training runs: the CPU here, a CUDA GPU when one is there (``--device auto``).

One place decides the device and whether bf16 autocast is used on it, so pretraining and
fine-tuning agree. Inference (the bot) always runs on the CPU and does not use this."""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> Any:
    """``torch.device`` for ``name``: ``auto`` is ``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    if name not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {DEVICE_CHOICES}, not {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: torch sees no CUDA GPU on this machine")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return torch.device(name)


@cache
def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(device: Any, wanted: bool) -> bool:
    """bf16 autocast when asked for and the device does it natively (every CUDA GPU we train on
    does; on a CPU only with the instructions, otherwise it is slower than fp32)."""
    if not wanted:
        return False
    return device.type == "cuda" or cpu_has_bf16()


def describe(device: Any) -> str:
    """What a training log records as its device: the GPU's name, or ``cpu``."""
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
