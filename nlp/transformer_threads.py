"""Set torch's thread count once, at start-up, before any model runs (no-op when torch is absent)."""
from __future__ import annotations

_configured = False


def configure_torch_threads(n: int) -> None:
    global _configured
    if _configured:
        return
    try:
        import torch
    except ImportError:  # the baseline model needs no torch
        return
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass
    _configured = True
