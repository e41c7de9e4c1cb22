"""The names :func:`load_encoder` accepts: the named models' ids, the registry, the lazily registered
names, and :func:`load_encoder` itself.

``_REGISTRY`` and ``_LAZY`` live here (patch them in this module).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable

from .._extras import require_models
from ._base import Encoder
from ._errors import EncoderUnavailableError
from ._loaders import (_load_hf_any, _load_local, _load_open_clip, _load_random, _make_hf_factory,
                       _make_openclip_factory)


_HF_MODELS: dict[str, dict[str, Any]] = {
    "clip-vit-b32": {"source": "openai/clip-vit-base-patch32", "family": "clip"},
    "siglip-b16-384": {"source": "google/siglip-base-patch16-384", "family": "siglip"},
    "medsiglip-448": {"source": "google/medsiglip-448", "family": "siglip", "gated": True},
}
_OPENCLIP_MODELS: dict[str, dict[str, Any]] = {
    "biomedclip": {
        "source": "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224",
        "context_length": 256,
    },
}


_REGISTRY: dict[str, Callable[..., Encoder]] = {}
#: names whose factory is registered when a module is imported (imported on first use)
_LAZY: dict[str, str] = {"mini-clip": "gapkit.contrastive"}
#: prefix forms, listed by available_encoders()
_PREFIX_FORMS = ["hf:<repo_id>", "open_clip:<arch>/<pretrained>", "random:<arch>"]


def register_encoder(name: str, factory: Callable[..., Encoder]) -> None:
    """Register a factory so that ``load_encoder(name, **kw)`` calls ``factory(**kw)``.

    The factory is called as ``factory(device=..., precision=..., **kwargs)``.
    """
    _REGISTRY[name] = factory


def available_encoders() -> list[str]:
    """Names ``load_encoder`` accepts (prefix forms such as ``random:<arch>`` are listed with their prefix)."""
    return sorted(set(_REGISTRY) | set(_LAZY) | set(_PREFIX_FORMS))


def load_encoder(name: str, device: str = "auto", precision: str = "auto", **kwargs: Any) -> Encoder:
    """Load an encoder by name (see the module docstring for the names).

    Parameters
    ----------
    name : str
        A registered name (``available_encoders()``), a prefix form
        (``"random:<arch>"``, ``"open_clip:<arch>/<pretrained>"``) or a local
        checkpoint directory.
    device : str
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    precision : str
        ``"auto"`` (bf16/fp16 on CUDA, fp32 on CPU), ``"fp32"``, ``"fp16"`` or ``"bf16"``.
    **kwargs
        Passed to the loader: ``path=`` (local checkpoint instead of the Hub),
        ``seed=`` (``random:`` models), ``token=``/``revision=`` (Hub models),
        ``num_workers=`` (image DataLoader workers).

    Raises
    ------
    ValueError
        Unknown name (the message lists the available ones).
    EncoderUnavailableError
        The model cannot be loaded here (offline, gated, missing package); the
        message says what to do.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}; available: {available_encoders()}")
    require_models(f"load_encoder({name!r})")  # every encoder is a torch model
    if name not in _REGISTRY and name in _LAZY:
        module = _LAZY[name]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise EncoderUnavailableError(
                f"Encoder {name!r} is provided by {module}, which could not be imported ({exc})."
            ) from exc
        if name not in _REGISTRY:
            raise EncoderUnavailableError(f"{module} was imported but did not register encoder {name!r}.")
    if name in _REGISTRY:
        return _REGISTRY[name](device=device, precision=precision, **kwargs)
    if name.startswith("random:"):
        return _load_random(name, device=device, precision=precision, **kwargs)
    if name.startswith("open_clip:"):
        return _load_open_clip(name, device=device, precision=precision, **kwargs)
    if name.startswith("hf:"):
        return _load_hf_any(name, device=device, precision=precision, **kwargs)
    if os.path.exists(os.path.expanduser(name)):
        if "path" in kwargs:
            raise ValueError("pass either a path as the name or path=..., not both")
        return _load_local(os.path.expanduser(name), device=device, precision=precision, **kwargs)
    raise ValueError(
        f"unknown encoder {name!r}; available: {', '.join(available_encoders())}, "
        "or a local checkpoint directory (transformers save_pretrained or open_clip layout)."
    )


for _name, _spec in _HF_MODELS.items():
    register_encoder(_name, _make_hf_factory(_name, _spec))
for _name, _spec in _OPENCLIP_MODELS.items():
    register_encoder(_name, _make_openclip_factory(_name, _spec))
