"""Batched torch inference shared by every model family (:class:`TorchEncoder`) and its token and output helpers."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import _imagepipe
from .._imagepipe import ResizeCropSpec
from .._validation import Integral, Interval, validate_params
from ._base import Encoder
from ._images import _as_image_items, _ImageDataset, _open_image
from ._runtime import _torch_dtype, resolve_device, resolve_precision, weights_fingerprint

#: constraints of the embed methods' settings (gapkit._validation.validate_params)
_EMBED_PARAMS = {"batch_size": [Interval(Integral, 1, None, closed="left")], "progress": ["boolean"]}


class TorchEncoder(Encoder):
    """Batched torch inference shared by every model family.

    Subclasses set ``model``, ``name``, ``model_id``, ``dim``, ``logit_scale``,
    ``logit_bias``, the uint8 image transform (``_image_transform``), the device-side
    normalisation constants (``_rescale``, ``_mean``, ``_std``) and implement
    ``_encode_pixels``, ``_encode_tokens``, ``tokenize`` and ``_config``.
    """

    model: Any
    _image_transform: Callable[[Any], Any]
    _rescale: float = 1.0 / 255.0
    _mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    _std: tuple[float, ...] = (1.0, 1.0, 1.0)
    num_workers: int | None = None
    _resize_spec: ResizeCropSpec | None = None
    _composite_alpha: bool = False  # transparent images: painted onto white (transformers) or alpha dropped
    _force_raw_jpeg: bool = False  # tests: hand JPEGs to torchvision's decoder on the CPU too

    @property
    def _raw_jpeg(self) -> bool:
        """Hand JPEGs to the device decoder undecoded (CUDA only: on the CPU, PIL in workers is as fast)."""
        return str(self.device).startswith("cuda") or self._force_raw_jpeg

    def _setup_runtime(self, device: str, precision: str, num_workers: int | None = None,
                       preprocess_on: str = "auto") -> None:
        import torch

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.num_workers = num_workers
        self.model = self.model.to(self.device).eval()
        self.model.requires_grad_(False)
        self._dev_mean = torch.tensor(self._mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._dev_std = torch.tensor(self._std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self.preprocess_on = preprocess_on

    @property
    def preprocess_on(self) -> str:
        """Where images are decoded and resized: ``"cpu"`` or ``"device"`` (resolved from ``"auto"``).

        ``"cpu"``: PIL in DataLoader workers, exactly the model's reference
        preprocessing (transformers' image processor / open_clip's transform).
        ``"device"``: JPEGs decoded on the device (nvJPEG on CUDA) and every image
        resized and cropped there with torch (:mod:`gapkit._imagepipe`; within one
        grey level of PIL). ``"auto"`` (the default) picks ``"device"`` on CUDA when
        the model's resize has a torch equivalent, else ``"cpu"``. Settable; part of
        :meth:`fingerprint`, so cached embeddings never mix the two.
        """
        return self._preprocess_on

    @preprocess_on.setter
    def preprocess_on(self, value: str) -> None:
        spec = self._resize_spec
        if value == "auto":
            value = "device" if spec is not None and str(self.device).startswith("cuda") else "cpu"
        elif value not in ("cpu", "device"):
            raise ValueError(f"preprocess_on must be 'auto', 'cpu' or 'device', got {value!r}")
        elif value == "device" and spec is None:
            raise ValueError(
                f"{getattr(self, 'name', type(self).__name__)}: this model's image transform has no exact torch "
                "equivalent (e.g. a lanczos resize or open_clip's 'longest' resize mode); use preprocess_on='cpu'."
            )
        self._preprocess_on = value

    # -- hooks -------------------------------------------------------------------------------
    def _encode_pixels(self, pixels: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_tokens(self, tokens: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        """Preprocessing and tokenisation settings (part of the fingerprint)."""
        return {}

    # -- helpers -----------------------------------------------------------------------------
    def _autocast(self) -> Any:
        import torch

        dev_type = self.device.split(":")[0]
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=dev_type, dtype=_torch_dtype(self.precision))

    def _normalize_on_device(self, x: Any) -> Any:
        import torch

        x = x.to(torch.float32)
        if self._rescale != 1.0:
            x = x.mul_(self._rescale)
        return x.sub_(self._dev_mean).div_(self._dev_std)

    def _output(self, n: int, what: str, unit: str, progress: bool) -> tuple[Any, Any, bool]:
        """The (n, dim) float32 result buffer (pinned on CUDA), its progress bar, and whether on CUDA."""
        import torch
        from tqdm.auto import tqdm

        cuda = self.device.startswith("cuda")
        out = torch.empty((n, self.dim), dtype=torch.float32, pin_memory=cuda)
        return out, tqdm(total=n, desc=f"{self.name}: {what}", unit=unit, disable=not progress), cuda

    def _finish(self, out: Any, bar: Any, cuda: bool) -> np.ndarray:
        """Wait for the device copies, close the bar, and hand the buffer back as numpy."""
        import torch

        if cuda:
            torch.cuda.synchronize(self.device)
        bar.close()
        return out.numpy().copy() if cuda else out.numpy()

    def _default_workers(self, n: int, batch_size: int) -> int:
        if self.num_workers is not None:
            return int(self.num_workers)
        if n <= batch_size:
            return 0  # one batch: worker start-up would cost more than it saves
        cpus = os.cpu_count() or 1
        if self.device.startswith("cuda"):
            return max(1, min(8, cpus - 1))
        return max(0, min(4, cpus // 2))  # leave cores for the model's own threads

    @property
    def image_size(self) -> tuple[int, int]:
        """Model input size ``(H, W)`` after preprocessing."""
        from PIL import Image

        x = self._image_transform(Image.new("RGB", (257, 311)))
        return int(x.shape[1]), int(x.shape[2])

    def preprocess(self, images: Any) -> Any:
        """Preprocess images into normalised float32 pixel values ``(n, 3, H, W)`` on the CPU.

        The result can be passed back to :meth:`embed_images` (it is then used
        as is), e.g. to time the model alone.
        """
        import torch

        items = _as_image_items(images)
        if isinstance(items, torch.Tensor):
            return items.float()
        x = torch.stack([self._image_transform(_open_image(items[i])) for i in range(len(items))])
        x = x.to(torch.float32) * self._rescale
        mean = torch.tensor(self._mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self._std, dtype=torch.float32).view(1, -1, 1, 1)
        return (x - mean) / std

    def _image_loader(self, items: Any, batch_size: int, workers: int) -> Any:
        """The DataLoader over raw image inputs: PIL preprocessing, or reading for the device path.

        Workers hand over small chunks (<= 32 images) that are copied to the device as they
        arrive and concatenated into model batches there (:meth:`_assemble`): no worker sits
        on a whole batch while the others idle at the end, and copies overlap with decoding.
        """
        from torch.utils.data import DataLoader

        chunk = batch_size if workers == 0 else batch_size // -(-batch_size // 32)
        if self.preprocess_on == "device":  # workers read files / decode non-JPEGs; JPEGs are decoded on the device
            dataset: Any = _imagepipe.RawImageDataset(items, raw_jpeg=self._raw_jpeg,
                                                      composite_alpha=self._composite_alpha)
            collate = _imagepipe.collate_list
        else:
            dataset, collate = _ImageDataset(items, self._image_transform), None
        return DataLoader(dataset, batch_size=chunk, shuffle=False, num_workers=workers,
                          pin_memory=self.device.startswith("cuda"), prefetch_factor=4 if workers > 0 else None,
                          persistent_workers=False, collate_fn=collate)

    def _part_to_device(self, part: Any) -> list[Any]:
        """One loader chunk as list items for :meth:`_assemble` (PIL path: copied to the device now)."""
        if self.preprocess_on == "device":
            return list(part)
        return [part.to(self.device, non_blocking=True)]

    def _assemble(self, pending: list[Any], first_index: int = 0) -> Any:
        """Collected chunks → one ``(B, 3, H, W)`` batch of uint8 values on the device, ready to normalise."""
        import torch

        if self.preprocess_on == "device":
            return _imagepipe.to_model_size(pending, self._resize_spec, self.device, first_index=first_index)
        return pending[0] if len(pending) == 1 else torch.cat(pending)

    # -- public API --------------------------------------------------------------------------
    @validate_params({**_EMBED_PARAMS, "num_workers": [None, Interval(Integral, 0, None, closed="left")]})
    def embed_images(
        self,
        images: Any,
        *,
        batch_size: int = 64,
        progress: bool = True,
        num_workers: int | None = None,
    ) -> np.ndarray:
        """Embed images; returns raw float32 embeddings ``(n, dim)`` (not normalised).

        Parameters
        ----------
        images : sequence or array
            PIL images, a uint8 array ``(n, H, W, 3)``, file paths, encoded image
            bytes (or Hugging Face ``{"bytes", "path"}`` dicts); or a float array /
            tensor ``(n, 3, H, W)`` of already preprocessed pixels (:meth:`preprocess`).
        batch_size : int
        progress : bool
            Show a tqdm progress bar.
        num_workers : int, optional
            DataLoader workers for decoding and preprocessing; by default up to 8 on
            CUDA, up to ``cpu_count // 2`` on CPU, and 0 for a single batch.
        """
        import torch

        items = _as_image_items(images)
        n = len(items)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out, bar, cuda = self._output(n, "images", "img", progress)
        i = 0
        with torch.inference_mode(), self._autocast():
            if isinstance(items, torch.Tensor):  # preprocessed pixel values: straight to the model
                for start in range(0, n, batch_size):
                    x = items[start : start + batch_size].to(self.device, torch.float32, non_blocking=True)
                    feats = _as_embedding(self._encode_pixels(x), "image")
                    out[start : start + len(x)].copy_(feats, non_blocking=cuda)
                    bar.update(len(x))
            elif self.preprocess_on == "device" and isinstance(items, np.ndarray):
                # a uint8 array batch: copy it as it is, resize and crop on the device
                for start in range(0, n, batch_size):
                    x = _imagepipe.array_batch(items[start : start + batch_size], self._resize_spec, self.device,
                                               cuda, self._composite_alpha)
                    feats = _as_embedding(self._encode_pixels(self._normalize_on_device(x)), "image")
                    out[start : start + len(x)].copy_(feats, non_blocking=cuda)
                    bar.update(len(x))
            else:
                workers = num_workers if num_workers is not None else self._default_workers(n, batch_size)
                pending: list[Any] = []
                n_pending = 0
                for part in self._image_loader(items, batch_size, workers):
                    pending += self._part_to_device(part)
                    n_pending += len(part)
                    if n_pending < batch_size and i + n_pending < n:
                        continue
                    x = self._assemble(pending, first_index=i)
                    pending, n_pending = [], 0
                    feats = _as_embedding(self._encode_pixels(self._normalize_on_device(x)), "image")
                    out[i : i + len(x)].copy_(feats, non_blocking=cuda)
                    i += len(x)
                    bar.update(len(x))
        return self._finish(out, bar, cuda)

    @validate_params(_EMBED_PARAMS)
    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256, progress: bool = True) -> np.ndarray:
        """Embed strings; returns raw float32 embeddings ``(n, dim)`` (not normalised).

        Tokenisation is the model's own (:meth:`tokenize`): truncated to its context length.
        """
        import torch

        texts = _as_text_list(texts)
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out, bar, cuda = self._output(n, "texts", "text", progress)
        with torch.inference_mode(), self._autocast():
            for start in range(0, n, batch_size):
                chunk = texts[start : start + batch_size]
                tokens = _to_device(self.tokenize(chunk), self.device)
                feats = _as_embedding(self._encode_tokens(tokens), "text")
                out[start : start + len(chunk)].copy_(feats, non_blocking=cuda)
                bar.update(len(chunk))
        return self._finish(out, bar, cuda)

    def fingerprint(self) -> str:
        """16 hex characters: weights (sampled, see :func:`weights_fingerprint`) + preprocessing + tokenisation.

        Memoised until a parameter or buffer is replaced or modified in place
        (tracked through the tensors' identities and version counters), so
        calling it for every cache lookup costs microseconds.
        """
        import itertools

        sig = (self.preprocess_on,) + tuple(
            (id(t), t._version) for t in itertools.chain(self.model.parameters(), self.model.buffers()))
        memo = getattr(self, "_fingerprint_memo", None)
        if memo is not None and memo[0] == sig:
            return memo[1]
        fp = weights_fingerprint(self.model, {"class": type(self).__name__, **self._config(),
                                              "preprocess_on": self.preprocess_on})
        self._fingerprint_memo = (sig, fp)
        return fp


def _as_text_list(texts: Any) -> list[str]:
    from .._validation import check_texts

    if isinstance(texts, str):
        raise TypeError("embed_texts expects a sequence of strings; wrap a single string in a list: [text]")
    return check_texts(texts, name="texts")  # None/NaN are named, never embedded as "None"/"nan"


def _to_device(tokens: Any, device: str) -> Any:
    if isinstance(tokens, Mapping):
        return {k: v.to(device, non_blocking=True) for k, v in tokens.items()}
    return tokens.to(device, non_blocking=True)


def _as_embedding(out: Any, kind: str) -> Any:
    """The joint-space embedding from whatever a model's feature method returns.

    transformers 4.x returns a tensor from ``get_image_features``/``get_text_features``;
    transformers 5 returns a ``BaseModelOutputWithPooling`` whose ``pooler_output``
    holds the projected embedding (CLIP: after ``visual_projection`` /
    ``text_projection``; SigLIP: after the attention-pooling head / text head).
    """
    import torch

    if torch.is_tensor(out):
        return out
    for attr in (f"{kind}_embeds", "pooler_output"):
        value = getattr(out, attr, None)
        if value is not None:
            return value
    if isinstance(out, (tuple, list)) and len(out) > 1 and torch.is_tensor(out[1]):
        return out[1]
    raise TypeError(f"cannot find the {kind} embedding in a {type(out).__name__} output")
