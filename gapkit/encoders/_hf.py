"""The transformers family: CLIP and SigLIP (clip-vit-b32, siglip-b16-384, medsiglip-448, hf:<repo_id>)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .. import _imagepipe
from ._errors import EncoderUnavailableError, _checkpoint_errors, _hub_errors
from ._images import _HFImageTransform, transformers_composites_alpha
from ._torch import TorchEncoder, _as_text_list


def _size_get(size: Any, key: str) -> Any:
    """Read ``key`` from an image processor's size (a dict in transformers 4, a ``SizeDict`` in 5)."""
    if size is None:
        return None
    if isinstance(size, Mapping):
        return size.get(key)
    return getattr(size, key, None)


def _transformers_dtype_kw() -> str:
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


class HFEncoder(TorchEncoder):
    """A CLIP or SigLIP model through transformers (``CLIPModel`` / ``SiglipModel``).

    Parameters
    ----------
    source : str
        Hub id or local ``save_pretrained`` directory.
    name : str
        Name shown in reports and cache keys.
    family : {"clip", "siglip"}, optional
        Expected ``config.model_type``; checked when given.
    token, revision : optional
        Passed to ``from_pretrained``.
    """

    def __init__(
        self,
        source: str,
        *,
        name: str,
        family: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        token: str | bool | None = None,
        revision: str | None = None,
        gated: bool = False,
        num_workers: int | None = None,
        preprocess_on: str = "auto",
    ):
        import torch
        from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

        hub_kw: dict[str, Any] = {}
        if token is not None:
            hub_kw["token"] = token
        if revision is not None:
            hub_kw["revision"] = revision
        with _hub_errors(name, source, gated=gated), _checkpoint_errors(name, source):
            config = AutoConfig.from_pretrained(source, **hub_kw)
            model_type = config.model_type
            if model_type == "clip":
                from transformers import CLIPModel as model_cls
            elif model_type == "siglip":
                from transformers import SiglipModel as model_cls
            else:
                raise ValueError(
                    f"{source}: config.model_type is {model_type!r}; gapkit's transformers loader supports "
                    "'clip' and 'siglip' checkpoints. For open_clip checkpoints use 'open_clip:<arch>' with path=."
                )
            if family is not None and model_type != family:
                raise ValueError(f"{name!r} expects a {family!r} checkpoint but {source} holds a {model_type!r} model")
            model = model_cls.from_pretrained(source, **{_transformers_dtype_kw(): torch.float32}, **hub_kw)
            try:
                tokenizer = AutoTokenizer.from_pretrained(source, **hub_kw)
            except (ImportError, ValueError, AttributeError, TypeError) as exc:
                needs = ("sentencepiece", "protobuf", "nonetype")
                if model_type == "siglip" and any(s in str(exc).lower() for s in needs):
                    raise EncoderUnavailableError(
                        f"{name!r}: the SigLIP tokenizer needs the sentencepiece and protobuf packages "
                        f"(pip install sentencepiece protobuf); loading it failed with: {exc}"
                    ) from exc
                raise
            image_processor = AutoImageProcessor.from_pretrained(source, **hub_kw)

        self.model = model
        self.tokenizer = tokenizer
        self.family = model_type
        self.name = name
        self.model_id = str(source)
        tcfg = config.text_config
        self.max_length = int(getattr(tcfg, "max_position_embeddings", 77))
        if model_type == "clip":
            self.dim = int(config.projection_dim)
            self.logit_bias = None
        else:
            self.dim = int(getattr(tcfg, "projection_size", None) or config.vision_config.hidden_size)
            self.logit_bias = float(model.logit_bias.detach().reshape(-1)[0])
        self.logit_scale = float(model.logit_scale.detach().exp().reshape(-1)[0])

        ip = image_processor
        size = getattr(ip, "size", None)
        if not getattr(ip, "do_resize", True):
            resize = None
        elif _size_get(size, "shortest_edge"):
            resize = int(_size_get(size, "shortest_edge"))
        elif _size_get(size, "height") and _size_get(size, "width"):
            resize = (int(_size_get(size, "height")), int(_size_get(size, "width")))
        else:
            raise ValueError(
                f"{source}: unsupported image processor size {size!r} (expected shortest_edge or height/width)"
            )
        crop = None
        if getattr(ip, "do_center_crop", False):
            cs = ip.crop_size
            crop = (int(_size_get(cs, "height")), int(_size_get(cs, "width")))
        resample = getattr(ip, "resample", 3)
        resample = int(getattr(resample, "value", resample)) if resample is not None else 3
        self._composite_alpha = transformers_composites_alpha()
        self._image_transform = _HFImageTransform(resize, resample, crop, bool(getattr(ip, "do_convert_rgb", True)),
                                                  self._composite_alpha)
        self._rescale = float(ip.rescale_factor) if getattr(ip, "do_rescale", True) else 1.0
        if getattr(ip, "do_normalize", True):
            mean, std = ip.image_mean, ip.image_std
            self._mean = tuple(float(m) for m in (mean if isinstance(mean, (list, tuple)) else [mean] * 3))
            self._std = tuple(float(s) for s in (std if isinstance(std, (list, tuple)) else [std] * 3))
        self._pp = {"resize": resize, "crop": crop, "resample": resample, "rescale": self._rescale,
                    "mean": self._mean, "std": self._std, "composite_alpha": self._composite_alpha}
        self._resize_spec = _imagepipe.spec_from_pil_resample(resize, resample, crop, "floor")
        self._setup_runtime(device, precision, num_workers, preprocess_on)

    def tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """Tokenise like the model was trained.

        CLIP: pad to the longest text in the batch, truncate at 77 tokens, with an
        attention mask. SigLIP (and MedSigLIP): ``padding="max_length"`` to the
        context length (64), truncated, ``input_ids`` only (SigLIP was trained
        without an attention mask; its pooled token is the last position).
        """
        texts = _as_text_list(texts)
        if self.family == "siglip":
            enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
            return {"input_ids": enc["input_ids"]}
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def _encode_pixels(self, pixels: Any) -> Any:
        return self.model.get_image_features(pixel_values=pixels)

    def _encode_tokens(self, tokens: Mapping[str, Any]) -> Any:
        return self.model.get_text_features(**tokens)

    def _config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "preprocess": self._pp,
            "tokenizer": type(self.tokenizer).__name__,
            "vocab": len(self.tokenizer),
            "max_length": self.max_length,
            "padding": "max_length" if self.family == "siglip" else "longest",
        }
