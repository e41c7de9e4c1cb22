"""Loaders: the factories of the named models and the prefix forms (random:, open_clip:, hf:) and local paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ._base import Encoder
from ._errors import EncoderUnavailableError
from ._hf import HFEncoder
from ._openclip import OpenCLIPEncoder
from ._runtime import resolve_device


def _make_hf_factory(name: str, spec: dict[str, Any]) -> Callable[..., Encoder]:
    def factory(device: str = "auto", precision: str = "auto", path: str | os.PathLike | None = None,
                **kw: Any) -> Encoder:
        source = str(path) if path is not None else spec["source"]
        if path is not None:
            _check_local(name, source)
        return HFEncoder(source, name=name, family=spec["family"], device=device, precision=precision,
                         gated=spec.get("gated", False) and path is None, **kw)

    factory.__doc__ = f"Load {name!r} ({spec['source']}); path= loads a local save_pretrained copy."
    return factory


def _make_openclip_factory(name: str, spec: dict[str, Any]) -> Callable[..., Encoder]:
    def factory(device: str = "auto", precision: str = "auto", path: str | os.PathLike | None = None,
                **kw: Any) -> Encoder:
        kw.setdefault("context_length", spec.get("context_length"))
        if path is None:
            return OpenCLIPEncoder(spec["source"], name=name, device=device, precision=precision, **kw)
        _check_local(name, str(path))
        if not (Path(path) / "open_clip_config.json").is_file():
            raise ValueError(
                f"{name!r} with path={str(path)!r}: expected a directory holding open_clip_config.json and the "
                "weights (open_clip_pytorch_model.bin or .safetensors), the layout of its Hub repository."
            )
        return OpenCLIPEncoder(f"local-dir:{path}", name=name, model_id=str(path), device=device,
                               precision=precision, **kw)

    factory.__doc__ = f"Load {name!r} ({spec['source']}); path= loads a local directory in the Hub layout."
    return factory


def _check_local(name: str, path: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name!r}: local checkpoint {path!r} does not exist")


def _load_random(name: str, *, device: str, precision: str, seed: int = 0, **kw: Any) -> Encoder:
    arch = name.split(":", 1)[1]
    if not arch:
        raise ValueError("random:<arch> needs an open_clip architecture, e.g. 'random:ViT-B-32' or 'random:RN50'")
    import open_clip

    if open_clip.get_model_config(arch) is None:
        raise ValueError(f"{name!r}: unknown open_clip architecture {arch!r}; choose one of open_clip.list_models(), "
                         "e.g. ViT-B-32, ViT-B-16, RN50")
    from .._validation import SEED, check_param

    seed = check_param("seed", seed, [SEED], owner=f"load_encoder({name!r})", default=0)
    device = resolve_device(device)  # a missing GPU is said as such, not blamed on the Hub below
    try:
        return OpenCLIPEncoder(arch, name=name, seed=seed, model_id=f"random init, seed {seed}", device=device,
                               precision=precision, **kw)
    except EncoderUnavailableError as exc:
        raise EncoderUnavailableError(
            f"{name!r}: this architecture's text tower or tokenizer comes from the Hugging Face Hub, which is "
            "unreachable here. Offline, use an architecture with the bundled CLIP tokenizer, e.g. "
            f"'random:ViT-B-32' or 'random:RN50'. ({exc})"
        ) from exc


def _load_open_clip(name: str, *, device: str, precision: str, path: str | os.PathLike | None = None,
                    **kw: Any) -> Encoder:
    spec = name.split(":", 1)[1]
    if spec.startswith("hf-hub:"):
        if path is not None:
            return _make_openclip_factory(name, {"source": spec})(device=device, precision=precision, path=path, **kw)
        return OpenCLIPEncoder(spec, name=name, device=device, precision=precision, **kw)
    arch, _, pretrained = spec.partition("/")
    if path is not None:
        _check_local(name, str(path))
        if os.path.isdir(path):
            if (Path(path) / "open_clip_config.json").is_file():
                return OpenCLIPEncoder(f"local-dir:{path}", name=name, model_id=str(path), device=device,
                                       precision=precision, **kw)
            raise ValueError(f"{name!r}: {path} is a directory without open_clip_config.json; pass the weights file")
        return OpenCLIPEncoder(arch, name=name, pretrained=str(path), model_id=str(path), device=device,
                               precision=precision, **kw)
    if not pretrained:
        raise ValueError(
            f"{name!r}: name the pretrained weights, e.g. 'open_clip:{arch or 'ViT-B-32'}/laion2b_s34b_b79k' "
            f"(see open_clip.list_pretrained()), pass path='weights.pt', or use 'random:{arch or 'ViT-B-32'}'."
        )
    import open_clip

    if open_clip.get_model_config(arch) is None:
        raise ValueError(f"{name!r}: unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    return OpenCLIPEncoder(arch, name=name, pretrained=pretrained, device=device, precision=precision, **kw)


def _load_hf_any(name: str, *, device: str, precision: str, path: str | None = None, **kw: Any) -> Encoder:
    source = str(path) if path is not None else name.split(":", 1)[1].strip()
    if not source:
        raise ValueError(f"{name!r}: 'hf:' needs a Hugging Face repository id after it, e.g. "
                         "'hf:openai/clip-vit-large-patch14', or a local copy with path='/some/dir'.")
    return HFEncoder(source, name=name, device=device, precision=precision, **kw)


def _load_local(path: str, *, device: str, precision: str, **kw: Any) -> Encoder:
    p = Path(path)
    if p.is_dir() and (p / "open_clip_config.json").is_file():
        return OpenCLIPEncoder(f"local-dir:{p}", name=str(p), model_id=str(p), device=device, precision=precision, **kw)
    if p.is_dir() and (p / "config.json").is_file():
        return HFEncoder(str(p), name=str(p), device=device, precision=precision, **kw)
    raise ValueError(
        f"{path!r}: not a checkpoint directory gapkit recognises. Expected a transformers save_pretrained folder "
        "(config.json with model_type 'clip' or 'siglip') or an open_clip folder (open_clip_config.json + weights). "
        "For an open_clip weights file use load_encoder('open_clip:<arch>', path=file)."
    )
