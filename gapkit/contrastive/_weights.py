"""The cached weights: the sha256 of a state dict and the checked loading of a weights file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ._model import MiniCLIP
from ._options import MiniCLIPConfig, _cache_config
from ._params import _VERSION


def _state_digest(state: dict[str, Any]) -> str:
    """sha256 of every tensor of a :meth:`MiniCLIP.state_dict` (names, dtypes, shapes and bytes), in a fixed order."""
    h = hashlib.sha256()
    for part in sorted(state):
        sd = state[part] if isinstance(state[part], dict) else {"": state[part]}
        for k in sorted(sd):
            t = sd[k].detach().cpu().contiguous()
            h.update(f"{part}/{k}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def _load_weights(path: Path, cfg: MiniCLIPConfig) -> dict[str, Any]:
    """A cached weights blob, checked: right version and config, every tensor matching its recorded sha256."""
    import torch

    blob = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(blob, dict) or blob.get("version") != _VERSION:
        raise ValueError(f"not a {_VERSION} weights file")
    if blob.get("config") != _cache_config(cfg):
        raise ValueError("it was trained with another configuration")
    if blob.get("sha256") != _state_digest(blob["state"]):
        raise ValueError("sha256 checksum mismatch: the weights are corrupted")
    MiniCLIP(cfg, "cpu").load_state_dict(blob["state"])  # shapes and names must fit the architecture
    return blob
