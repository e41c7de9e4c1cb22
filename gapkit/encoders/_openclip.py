"""The open_clip family: biomedclip, open_clip:<arch>/<pretrained>, random:<arch>."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Sequence

from .. import _imagepipe
from ._errors import EncoderUnavailableError, _checkpoint_errors, _hub_errors
from ._images import _ComposeToUint8
from ._torch import TorchEncoder, _as_text_list, _to_device


@contextlib.contextmanager
def _drop_log_records(prefix: str):
    """Drop root-logger records whose message starts with ``prefix`` inside the block."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(prefix)

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


class OpenCLIPEncoder(TorchEncoder):
    """An open_clip model (``encode_image`` / ``encode_text``) with its own tokenizer and transform.

    Parameters
    ----------
    model_name : str
        What ``open_clip.create_model`` receives: a built-in architecture
        (``"ViT-B-32"``), ``"hf-hub:<org>/<repo>"`` or ``"local-dir:<path>"``.
    pretrained : str, optional
        Pretrained tag or checkpoint file (only with a built-in architecture).
    seed : int, optional
        Random initialisation with ``torch.manual_seed(seed)`` (no weights loaded).
    context_length : int, optional
        Override the tokenizer's context length (default: the model config's).
    """

    def __init__(
        self,
        model_name: str,
        *,
        name: str,
        pretrained: str | None = None,
        seed: int | None = None,
        context_length: int | None = None,
        model_id: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        num_workers: int | None = None,
        preprocess_on: str = "auto",
    ):
        import torch

        try:
            import open_clip
            from open_clip.transform import PreprocessCfg, image_transform_v2
        except ImportError as exc:  # pragma: no cover - a dependency
            raise EncoderUnavailableError(f"{name!r} needs open_clip_torch (pip install open_clip_torch)") from exc

        source = model_name if pretrained is None else f"{model_name} ({pretrained})"
        local = (model_name[len("local-dir:"):] if model_name.startswith("local-dir:")
                 else pretrained if pretrained is not None and os.path.exists(str(pretrained)) else None)
        with _hub_errors(name, source), _checkpoint_errors(name, local):
            if seed is not None:
                # Random weights are what ``random:<arch>`` asks for, so open_clip's root-logger
                # warning "No pretrained weights loaded ... initialized randomly" is expected: drop it.
                with torch.random.fork_rng(devices=[]), _drop_log_records("No pretrained weights loaded"):
                    torch.manual_seed(int(seed))
                    model = open_clip.create_model(
                        model_name, pretrained=None, load_weights=False, pretrained_image=False, pretrained_text=False
                    )
            else:
                model = open_clip.create_model(model_name, pretrained=pretrained, pretrained_image=False,
                                               pretrained_text=False)
            tokenizer = open_clip.get_tokenizer(model_name, context_length=context_length)

        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.model_id = model_id or source
        self.context_length = int(getattr(tokenizer, "context_length", None) or context_length or 77)
        self.logit_scale = float(model.logit_scale.detach().exp().reshape(-1)[0])
        bias = getattr(model, "logit_bias", None)
        self.logit_bias = None if bias is None else float(bias.detach().reshape(-1)[0])

        pp = PreprocessCfg(**open_clip.get_model_preprocess_cfg(model))
        steps, mean, std = [], None, None
        for t in image_transform_v2(pp, is_train=False).transforms:
            tname = type(t).__name__
            if tname in ("ToTensor", "MaybeToTensor"):
                from torchvision.transforms import PILToTensor

                steps.append(PILToTensor())
            elif tname == "Normalize":
                mean, std = tuple(float(m) for m in t.mean), tuple(float(s) for s in t.std)
            else:
                steps.append(t)
        if mean is None:  # pragma: no cover - open_clip always normalises
            raise RuntimeError("open_clip transform without Normalize")
        self._image_transform = _ComposeToUint8(steps)
        self._mean, self._std, self._rescale = mean, std, 1.0 / 255.0
        self._pp = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(pp).items()}
        self._resize_spec = _imagepipe.spec_from_openclip(steps)
        self._setup_runtime(device, precision, num_workers, preprocess_on)
        dim = getattr(getattr(model, "visual", None), "output_dim", None) or getattr(
            getattr(model, "text", None), "output_dim", None)
        if not dim:  # e.g. timm vision tower with a custom text tower: ask the model
            with torch.inference_mode():
                dim = self.model.encode_text(_to_device(self.tokenize(["a"]), self.device)).shape[-1]
        self.dim = int(dim)

    def tokenize(self, texts: Sequence[str]) -> Any:
        """open_clip tokenisation: ``(n, context_length)`` token ids (77 for CLIP, 256 for BiomedCLIP)."""
        return self.tokenizer(_as_text_list(texts), context_length=self.context_length)

    def _encode_pixels(self, pixels: Any) -> Any:
        return self.model.encode_image(pixels, normalize=False)

    def _encode_tokens(self, tokens: Any) -> Any:
        return self.model.encode_text(tokens, normalize=False)

    def _config(self) -> dict[str, Any]:
        return {
            "preprocess": self._pp,
            "tokenizer": type(self.tokenizer).__name__,
            "context_length": self.context_length,
        }
