"""Image preprocessing on the encoder's device: decode JPEGs there, resize and crop with torch.

Used by :class:`gapkit.encoders.TorchEncoder` when ``preprocess_on="device"``
(the default on CUDA). On a GPU, PIL decoding and resizing in CPU workers cannot
keep up with a small model (ViT-B/32 embeds ~19,000 images/s on an H100, PIL
manages ~2,000/s in 8 workers; a Colab runtime has 2 CPU cores). This path
moves the work to the device:

- JPEG bytes (encoded bytes, file paths, Hugging Face ``{"bytes", "path"}``
  dicts) are read in workers and decoded in batches with
  :func:`torchvision.io.decode_jpeg` on the device (nvJPEG on CUDA); other
  formats are decoded with PIL in the workers;
- uint8 arrays ``(n, H, W, 3)`` and PIL images are copied as they are
  (transparent images: painted onto white for transformers models, as their
  processors do; alpha dropped *before* the resize for open_clip models, whose
  PIL transform resizes premultiplied RGBA and drops alpha after: the two differ
  only at part-transparent pixels);
- the resize is PIL's filter reproduced in torch: ``interpolate(...,
  antialias=True)`` (the same filter kernels as PIL, bicubic with a = -0.5), one
  axis at a time (horizontal first) with PIL's rounding to uint8 between and
  after the passes, then the model's centre crop. Tests check it against the PIL
  path: photos shrunk on both axes (the usual case) agree within one grey level
  almost everywhere; where Pillow resamples the vertical axis first (some
  up-sampling and mixed cases) the rounding differs by up to a few grey levels.

Only resize/crop recipes with an exact torch equivalent are accepted
(:func:`spec_from_openclip` returns ``None`` otherwise and the encoder keeps the
PIL path).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

JPEG_MAGIC = b"\xff\xd8\xff"
_PIL_TO_TORCH_MODE = {0: "nearest-exact", 2: "bilinear", 3: "bicubic"}  # PIL resample id -> interpolate mode


def open_image(item: Any) -> Any:
    """Decode one image input into a PIL image (mode left as is; the transform converts)."""
    from PIL import Image

    if isinstance(item, Image.Image):
        return item
    if isinstance(item, np.ndarray):
        arr = item
        if arr.dtype != np.uint8:
            raise ValueError(
                f"image arrays must be uint8 (H, W, 3) with values 0-255, got dtype {arr.dtype}; "
                "convert with (x * 255).round().astype(np.uint8) if they are floats in [0, 1]."
            )
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
            raise ValueError(f"image arrays must be (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
        return Image.fromarray(arr)
    if isinstance(item, (bytes, bytearray, memoryview)):
        im = Image.open(io.BytesIO(bytes(item)))
        im.load()
        return im
    if isinstance(item, (str, os.PathLike)):
        im = Image.open(item)
        im.load()  # decodes and closes the file (single-frame images)
        return im
    if isinstance(item, Mapping) and ("bytes" in item or "path" in item):  # Hugging Face datasets Image()
        if item.get("bytes") is not None:
            return open_image(item["bytes"])
        return open_image(item["path"])
    raise TypeError(
        f"cannot read an image from a {type(item).__name__}; pass PIL images, uint8 arrays (H, W, 3), "
        "file paths or encoded image bytes."
    )


def to_rgb(im: Any, composite_alpha: bool = False) -> Any:
    """A PIL image in RGB mode.

    ``composite_alpha``: paint transparent images onto white first, as transformers' (>= 5)
    image processors do; otherwise the alpha channel is dropped, as open_clip's transform does.
    """
    from PIL import Image

    if composite_alpha and ("A" in im.getbands() or im.info.get("transparency") is not None):
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


@dataclass(frozen=True)
class ResizeCropSpec:
    """One model's resize + centre crop, applied to float tensors holding uint8 values.

    Attributes
    ----------
    resize : int, (height, width) or None
        An int resizes the shorter edge to it keeping the aspect ratio (long edge
        ``int(size * long / short)``, as transformers and torchvision compute it);
        a pair resizes to exactly that size; ``None`` keeps the size.
    mode : {"bicubic", "bilinear", "nearest-exact"}
        The PIL filter, as a :func:`torch.nn.functional.interpolate` mode.
    crop : (height, width) or None
        Centre crop (zero padding first where the image is smaller).
    crop_offsets : {"floor", "round"}
        ``(H - h) // 2`` like transformers, or ``round((H - h) / 2)`` like torchvision.
    """

    resize: int | tuple[int, int] | None
    mode: str = "bicubic"
    crop: tuple[int, int] | None = None
    crop_offsets: str = "floor"

    def resized_size(self, h: int, w: int) -> tuple[int, int]:
        if self.resize is None:
            return h, w
        if isinstance(self.resize, int):
            short, long = (w, h) if w <= h else (h, w)
            new_short, new_long = self.resize, int(self.resize * long / short)
            return (new_long, new_short) if w <= h else (new_short, new_long)
        return int(self.resize[0]), int(self.resize[1])

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        return self.crop if self.crop is not None else self.resized_size(h, w)

    def crop_origin(self, h: int, w: int) -> tuple[int, int]:
        """``(top, left)`` of the centre crop in an ``h × w`` image (already padded to at least the crop)."""
        ch, cw = self.crop
        if self.crop_offsets == "round":
            return int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        return (h - ch) // 2, (w - cw) // 2

    def apply(self, x: Any) -> Any:
        """``(B, 3, H, W)`` float (uint8 values) → ``(B, 3, h, w)`` float (uint8 values), on x's device."""
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        nh, nw = self.resized_size(h, w)
        # PIL resamples the horizontal axis first, rounds to uint8, then the vertical axis.
        aa = self.mode != "nearest-exact"
        if nw != w:
            x = F.interpolate(x, size=(h, nw), mode=self.mode, antialias=aa) if aa else \
                F.interpolate(x, size=(h, nw), mode=self.mode)
            x = x.round_().clamp_(0, 255) if aa else x
        if nh != h:
            x = F.interpolate(x, size=(nh, nw), mode=self.mode, antialias=aa) if aa else \
                F.interpolate(x, size=(nh, nw), mode=self.mode)
            x = x.round_().clamp_(0, 255) if aa else x
        if self.crop is None:
            return x
        ch, cw = self.crop
        h, w = x.shape[-2:]
        if ch > h or cw > w:
            ph, pw = max(ch - h, 0), max(cw - w, 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
            h, w = x.shape[-2:]
        top, left = self.crop_origin(h, w)
        return x[..., top : top + ch, left : left + cw]


def spec_from_pil_resample(resize: Any, resample: int, crop: Any, crop_offsets: str) -> ResizeCropSpec | None:
    mode = _PIL_TO_TORCH_MODE.get(int(resample))
    if mode is None:  # lanczos, box, hamming: no torch equivalent
        return None
    return ResizeCropSpec(resize=resize, mode=mode, crop=None if crop is None else tuple(crop),
                          crop_offsets=crop_offsets)


def spec_from_openclip(steps: list[Any]) -> ResizeCropSpec | None:
    """The torch equivalent of an open_clip eval transform (PIL steps before ``PILToTensor``), or ``None``.

    Supported: ``Resize`` (int or pair, no ``max_size``) then ``CenterCrop``, plus
    mode conversion to RGB. Anything else (``ResizeKeepRatio``, ``CenterCropOrPad``...)
    returns ``None``.
    """
    resize, interp, crop = None, "bicubic", None
    for t in steps:
        name = type(t).__name__
        if name == "Resize":
            if getattr(t, "max_size", None) is not None or resize is not None or crop is not None:
                return None
            size = t.size
            resize = int(size) if isinstance(size, int) else (
                int(size[0]) if len(size) == 1 else (int(size[0]), int(size[1])))
            interp = getattr(t.interpolation, "value", str(t.interpolation))
        elif name == "CenterCrop":
            size = t.size
            crop = (int(size[0]), int(size[1])) if len(size) == 2 else (int(size[0]), int(size[0]))
        elif name in ("PILToTensor", "MaybeConvertMode") or name == "function" and "rgb" in t.__name__:
            if name == "MaybeConvertMode" and getattr(t, "mode", "RGB") not in ("RGB", None):
                return None
            continue
        else:
            return None
    mode = {"bicubic": "bicubic", "bilinear": "bilinear", "nearest": "nearest-exact"}.get(str(interp))
    if mode is None:
        return None
    return ResizeCropSpec(resize=resize, mode=mode, crop=crop, crop_offsets="round")


def load_raw(item: Any, raw_jpeg: bool, composite_alpha: bool = False) -> tuple[str, Any]:
    """One image input → ``("jpeg", uint8 1-D bytes tensor)`` or ``("rgb", uint8 (3, H, W) tensor)``.

    JPEGs stay encoded when ``raw_jpeg`` (they are decoded in batches on the
    device); everything else is decoded here with PIL and converted to RGB.
    """
    import torch

    if raw_jpeg:
        data = None
        if isinstance(item, Mapping) and ("bytes" in item or "path" in item):
            item = item["bytes"] if item.get("bytes") is not None else item["path"]
        if isinstance(item, (bytes, bytearray, memoryview)):
            data = bytes(item)
        elif isinstance(item, (str, os.PathLike)):
            with open(item, "rb") as fh:
                data = fh.read()
        if data is not None and data[:3] == JPEG_MAGIC:
            return "jpeg", torch.frombuffer(bytearray(data), dtype=torch.uint8)
        if data is not None:
            item = data
    arr = np.array(to_rgb(open_image(item), composite_alpha), dtype=np.uint8)
    return "rgb", torch.from_numpy(arr).permute(2, 0, 1)


class RawImageDataset:
    """Map-style dataset for DataLoader workers: item ``i`` → :func:`load_raw`'s pair."""

    def __init__(self, images: Any, raw_jpeg: bool, composite_alpha: bool = False):
        self.images = images
        self.raw_jpeg = raw_jpeg
        self.composite_alpha = composite_alpha

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[str, Any]:
        item = self.images[i]
        try:
            return load_raw(item, self.raw_jpeg, self.composite_alpha)
        except Exception as exc:
            desc = item if isinstance(item, (str, os.PathLike)) else type(item).__name__
            raise ValueError(f"image {i} ({desc}): could not read/decode it: {exc}") from exc


def collate_list(batch: list[Any]) -> list[Any]:
    """Keep a batch as a list: images differ in size before the resize."""
    return batch


_DECODE_STREAMS: dict[str, Any] = {}


def decode_jpegs(blobs: list[Any], device: str, names: list[str] | None = None) -> list[Any]:
    """Decode JPEG byte tensors to RGB uint8 ``(3, H, W)`` on ``device`` (batched nvJPEG on CUDA).

    On CUDA the decoder runs with a dedicated stream as the current stream, so
    its outputs come from that stream's memory pool: torchvision's decoder does
    not wait for the caller's stream before writing (pytorch/vision#9606), and a
    block just freed by the model, still read by its queued kernels, must never
    be handed to it. The caller's stream then waits for the decode, and the
    outputs are recorded on it. A batch the device decoder rejects (e.g. a CMYK
    JPEG) is decoded image by image, on the CPU where the device fails; an image
    that no decoder reads raises a ``ValueError`` naming it (``names[i]``).
    """
    import warnings

    import torch

    from torchvision.io import ImageReadMode
    from torchvision.io import decode_jpeg as _decode

    def decode_jpeg(*args: Any, **kw: Any) -> Any:
        with warnings.catch_warnings():
            # torchvision 0.29 deprecates its image decoders (each call warns) in favour of TorchCodec; they
            # work in every torchvision gapkit supports and TorchCodec is not a dependency: not the reader's concern.
            warnings.filterwarnings("ignore", message=".*decoding and encoding capabilities of TorchVision",
                                    category=DeprecationWarning)
            return _decode(*args, **kw)

    def on_cpu(k: int) -> Any:
        try:
            return decode_jpeg(blobs[k], mode=ImageReadMode.RGB)
        except RuntimeError as exc:
            name = names[k] if names is not None else f"JPEG {k} of the batch"
            raise ValueError(f"{name}: could not decode it: {exc}") from exc

    if not str(device).startswith("cuda"):
        return [on_cpu(k) for k in range(len(blobs))]
    dev = torch.device(device)
    key = str(dev)
    if key not in _DECODE_STREAMS:
        _DECODE_STREAMS[key] = torch.cuda.Stream(device=dev)
    side, main = _DECODE_STREAMS[key], torch.cuda.current_stream(dev)
    with torch.cuda.stream(side):
        # RuntimeError: nvJPEG rejects an image; TypeError/ValueError: a torchvision without batched GPU decoding
        try:
            out = list(decode_jpeg(blobs, mode=ImageReadMode.RGB, device=dev))
        except (RuntimeError, TypeError, ValueError):
            out = []
            for k, b in enumerate(blobs):
                try:
                    out.append(decode_jpeg(b, mode=ImageReadMode.RGB, device=dev))
                except (RuntimeError, TypeError, ValueError):
                    out.append(on_cpu(k).to(dev, non_blocking=False))
    main.wait_stream(side)
    for t in out:
        t.record_stream(main)
    return out


def to_model_size(parts: list[tuple[str, Any]], spec: ResizeCropSpec, device: str, first_index: int = 0) -> Any:
    """Decoded/raw images of any sizes → one float ``(B, 3, h, w)`` batch of uint8 values on ``device``.

    Images of equal size are resized together (one ``interpolate`` call per size).
    ``first_index``: the position of ``parts[0]`` in the caller's input, for error messages.
    """
    import torch

    imgs: list[Any] = [None] * len(parts)
    jpeg_idx = [i for i, (kind, _) in enumerate(parts) if kind == "jpeg"]
    if jpeg_idx:
        names = [f"image {first_index + i}" for i in jpeg_idx]
        for i, t in zip(jpeg_idx, decode_jpegs([parts[i][1] for i in jpeg_idx], device, names)):
            imgs[i] = t
    for i, (kind, t) in enumerate(parts):
        if kind == "rgb":
            imgs[i] = t.to(device, non_blocking=True)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(imgs):
        groups.setdefault((int(t.shape[-2]), int(t.shape[-1])), []).append(i)
    if len(groups) == 1:
        return spec.apply(torch.stack(imgs).float())
    (h0, w0), _ = next(iter(groups.items()))
    oh, ow = spec.output_size(h0, w0)
    out = torch.empty((len(imgs), 3, oh, ow), dtype=torch.float32, device=device)
    for (h, w), idx in groups.items():
        y = spec.apply(torch.stack([imgs[i] for i in idx]).float())
        if y.shape[-2:] != (oh, ow):
            raise ValueError(
                f"images of different sizes preprocess to different shapes ({tuple(y.shape[-2:])} vs {(oh, ow)}) "
                "for this model (no centre crop); resize them to one size first."
            )
        out[torch.as_tensor(idx, device=device)] = y
    return out


def array_batch(arr: np.ndarray, spec: ResizeCropSpec, device: str, pin: bool, composite_alpha: bool = False) -> Any:
    """A uint8 array batch ``(B, H, W[, 3|4])`` → float ``(B, 3, h, w)`` of uint8 values on ``device``.

    RGBA rows are painted onto white (``composite_alpha``, like :func:`to_rgb`) or lose their alpha.
    """
    import torch

    # one copy into a (pinned, on CUDA) staging tensor: works for read-only arrays such as PairedDataset.images
    t = torch.empty(arr.shape, dtype=torch.uint8, pin_memory=pin)
    t.numpy()[...] = arr
    t = t.to(device, non_blocking=True)
    if t.ndim == 3:
        t = t.unsqueeze(-1)
    if t.shape[-1] == 1:
        t = t.expand(*t.shape[:-1], 3)
    elif t.shape[-1] == 4:
        if composite_alpha:
            rgb, a = t[..., :3].float(), t[..., 3:].float()
            return spec.apply((rgb * a / 255 + (255 - a)).round_().permute(0, 3, 1, 2).contiguous())
        t = t[..., :3]
    return spec.apply(t.permute(0, 3, 1, 2).float())
