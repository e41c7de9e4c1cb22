"""Device and precision resolution, and the weights fingerprint (part of every cache key)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ._errors import EncoderUnavailableError


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a CUDA device is available, else ``"cpu"``; other values pass through."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderUnavailableError(
            f"device={device!r} was requested but torch sees no CUDA device here; use device='auto' or 'cpu'."
        )
    return device


_PRECISIONS = {
    "fp32": "fp32",
    "float32": "fp32",
    "32": "fp32",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "16": "fp16",
    "bf16": "bf16",
    "bfloat16": "bf16",
}


def resolve_precision(precision: str, device: str) -> str:
    """The compute precision for ``precision`` on ``device``.

    ``"auto"`` → ``"bf16"`` on CUDA devices of compute capability 8.0 (Ampere) and newer,
    ``"fp16"`` on older CUDA devices, ``"fp32"`` on the CPU. A T4 (sm_75, Colab's free GPU) gets
    fp16: ``torch.cuda.is_bf16_supported()`` answers True there because bf16 can be emulated, but
    emulated bf16 is slow and cuDNN has no bf16 convolutions below sm_80.
    """
    import torch

    if precision in (None, "auto"):
        if device.startswith("cuda"):
            major, _minor = torch.cuda.get_device_capability(torch.device(device))
            return "bf16" if major >= 8 else "fp16"
        return "fp32"
    key = str(precision).lower()
    if key not in _PRECISIONS:
        raise ValueError(f"precision must be 'auto', 'fp32', 'fp16' or 'bf16', got {precision!r}")
    return _PRECISIONS[key]


def _torch_dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def weights_fingerprint(module: Any, extra: Any = None, *, samples_per_tensor: int = 256) -> str:
    """Stable short hash of a torch module's weights (plus ``extra``, e.g. the preprocessing config).

    Hashes every state-dict entry's name, shape and dtype and ``samples_per_tensor``
    evenly strided values of each tensor (cast to float32, gathered on the device
    and copied to the host in one transfer), so it costs milliseconds even for
    large models and does not depend on the device. Fine-tuning changes
    essentially every value, so it changes the fingerprint.

    Returns
    -------
    str
        16 hex characters.
    """
    import torch

    h = hashlib.sha256()
    samples = []
    with torch.no_grad():
        for key, t in module.state_dict().items():
            if not torch.is_tensor(t):
                continue
            h.update(f"{key}|{tuple(t.shape)}|{t.dtype};".encode())
            flat = t.detach().reshape(-1)
            if flat.numel() == 0:
                continue
            step = max(1, flat.numel() // samples_per_tensor)
            samples.append(flat[::step][:samples_per_tensor].to(torch.float32))
        if samples:
            h.update(torch.cat([s.to(samples[0].device) for s in samples]).cpu().numpy().tobytes())
    if extra is not None:
        h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]
