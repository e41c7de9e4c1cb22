"""Image inputs on the CPU path: decoding, the DataLoader dataset (top level so that worker processes can
pickle it), the transformers and open_clip PIL transforms, the transparency probe and the accepted
image containers.

The probe's answer is memoised here, in ``_COMPOSITES_ALPHA`` (patch it in this module).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from .. import _imagepipe
from .._imagepipe import ResizeCropSpec, open_image


_open_image = open_image  # decoding lives in gapkit._imagepipe (shared with the device path)


class _ImageDataset:
    """Map-style dataset: item ``i`` → the transform's uint8 tensor ``(3, H, W)``."""

    def __init__(self, images: Any, transform: Callable[[Any], Any]):
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Any:
        item = self.images[i]
        try:
            return self.transform(_open_image(item))
        except Exception as exc:
            desc = item if isinstance(item, (str, os.PathLike)) else type(item).__name__
            raise ValueError(f"image {i} ({desc}): could not decode/preprocess it: {exc}") from exc


def transformers_composites_alpha() -> bool:
    """Whether the installed transformers paints transparent images onto white.

    Newer transformers 5 releases composite RGBA (and palette images with transparency) onto a
    white background before preprocessing; older ones, Colab's 5.15 among them, drop the alpha
    channel. gapkit's PIL path follows whichever is installed, found by converting one fully
    transparent black pixel (white if composited, black if alpha is dropped).
    """
    global _COMPOSITES_ALPHA
    if _COMPOSITES_ALPHA is None:
        import inspect

        from PIL import Image
        from transformers.image_transforms import convert_to_rgb

        pixel = Image.new("RGBA", (1, 1), (0, 0, 0, 0))
        kw = {"return_numpy": True} if "return_numpy" in inspect.signature(convert_to_rgb).parameters else {}
        _COMPOSITES_ALPHA = bool(np.asarray(convert_to_rgb(pixel, **kw)).reshape(-1)[0] == 255)
    return _COMPOSITES_ALPHA


_COMPOSITES_ALPHA: bool | None = None


class _HFImageTransform:
    """PIL → uint8 ``(3, H, W)`` tensor, matching transformers' PIL image processors (CLIP, SigLIP).

    Convert to RGB (transparency painted onto white or dropped, as the installed transformers
    does: :func:`transformers_composites_alpha`), resize with PIL (shortest edge → ``size`` keeping the aspect
    ratio, or straight to ``(height, width)``), centre crop with the offsets
    transformers uses (``(H - h) // 2``). Rescaling and normalisation happen on the
    device.
    """

    def __init__(self, resize: int | tuple[int, int] | None, resample: int, crop: tuple[int, int] | None, rgb: bool,
                 composite_alpha: bool):
        self.resize = resize
        self.resample = int(resample)
        self.crop = crop
        self.rgb = rgb
        self.composite_alpha = composite_alpha
        # sizes and crop offsets: the same arithmetic as the device path (mode unused here: PIL resamples)
        self.geometry = ResizeCropSpec(resize=resize, crop=crop, crop_offsets="floor")

    def __call__(self, im: Any) -> Any:
        import torch

        if self.rgb:
            im = _imagepipe.to_rgb(im, composite_alpha=self.composite_alpha)
        w, h = im.size
        new_h, new_w = self.geometry.resized_size(h, w)
        if (new_w, new_h) != (w, h):
            im = im.resize((new_w, new_h), resample=self.resample)
        arr = np.array(im, dtype=np.uint8)  # a writable copy
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if self.crop is not None:
            ch, cw = self.crop
            h, w = arr.shape[:2]
            if ch > h or cw > w:  # pad with zeros, centred, like transformers
                ph, pw = max(ch, h), max(cw, w)
                canvas = np.zeros((ph, pw, arr.shape[2]), dtype=np.uint8)
                top, left = (ph - h) // 2, (pw - w) // 2
                canvas[top : top + h, left : left + w] = arr
                arr, h, w = canvas, ph, pw
            top, left = self.geometry.crop_origin(h, w)
            arr = arr[top : top + ch, left : left + cw]
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()


class _ComposeToUint8:
    """open_clip's eval transform with ``ToTensor``/``Normalize`` replaced by ``PILToTensor`` (uint8)."""

    def __init__(self, transforms: list[Any]):
        self.transforms = transforms

    def __call__(self, im: Any) -> Any:
        for t in self.transforms:
            im = t(im)
        if im.shape[0] == 1:
            im = im.expand(3, -1, -1).contiguous()
        return im


def _as_image_items(images: Any) -> Any:
    """Normalise the accepted image containers: a torch float tensor (preprocessed) or an indexable sequence."""
    import torch

    if isinstance(images, (str, os.PathLike, bytes)) or _is_pil(images):
        raise TypeError("embed_images expects a batch of images; wrap a single image in a list: [image]")
    if isinstance(images, torch.Tensor) or (isinstance(images, np.ndarray) and images.dtype.kind == "f"):
        x = torch.as_tensor(images)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"float image input must be preprocessed pixel values of shape (n, 3, H, W), got {tuple(x.shape)}; "
                "pass raw images as PIL images or a uint8 array (n, H, W, 3) instead."
            )
        if not x.is_floating_point():
            raise ValueError("tensor image input must be float pixel values (n, 3, H, W) from encoder.preprocess()")
        from .._validation import check_float_pixels

        # NaN/inf pixel values would give NaN embeddings (and poison a cache): name the rows instead
        check_float_pixels(x, name="images (preprocessed pixel values)", value_range=None)
        return x
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise ValueError(
                f"image arrays must be uint8 of shape (n, H, W, 3) (or (n, H, W) grayscale), got dtype "
                f"{images.dtype} and shape {images.shape}"
            )
        return images
    if not hasattr(images, "__len__") or not hasattr(images, "__getitem__"):
        return list(images)
    return images


def _is_pil(x: Any) -> bool:
    try:
        from PIL import Image

        return isinstance(x, Image.Image)
    except ImportError:  # pragma: no cover
        return False
