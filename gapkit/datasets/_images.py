"""Images to uint8 arrays: one image, a stack of them, and one pass over rows of records."""

from __future__ import annotations

import io
from typing import Any, Iterable, Mapping

import numpy as np

from .._validation import InvalidInputError, as_uint8_image


def _to_pil(img: Any, where: str = "image"):
    """PIL image from a PIL image, an array, a Hub ``{"bytes", "path"}`` dict, raw bytes or a path.

    Arrays go through :func:`gapkit._validation.as_uint8_image`: NaN/inf pixels, empty or 1-D
    arrays, float pixels outside [0, 1] and integers outside 0-255 raise, naming ``where``.
    """
    from PIL import Image

    if isinstance(img, Image.Image):
        return img
    if isinstance(img, Mapping):
        if img.get("bytes") is not None:
            return Image.open(io.BytesIO(img["bytes"]))
        if img.get("path"):
            return Image.open(img["path"])
        raise ValueError("image dict has neither 'bytes' nor 'path'.")
    if isinstance(img, (bytes, bytearray)):
        return Image.open(io.BytesIO(bytes(img)))
    if isinstance(img, str):
        return Image.open(img)
    arr = as_uint8_image(img, where=where)  # finite, non-empty, 2-D/3-D; floats in [0, 1], never guessed at
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3, 4):  # CHW -> HWC
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return Image.fromarray(arr)


def _image_to_array(img: Any, image_size: int | None, i: int = 0) -> np.ndarray:
    """One image as uint8 ``(S, S, 3)`` RGB, resized to ``image_size`` (bilinear) when given."""
    from PIL import Image

    try:
        pil = _to_pil(img, where=f"image {i} (row {i})").convert("RGB")
    except InvalidInputError:
        raise
    except Exception as exc:
        raise ValueError(f"image {i} (row {i}): could not read it ({exc}); drop the row or fix its file.") from exc
    if image_size is not None and pil.size != (image_size, image_size):
        pil = pil.resize((image_size, image_size), Image.BILINEAR)
    return np.asarray(pil, dtype=np.uint8)


def _stack(out: list[np.ndarray]) -> np.ndarray:
    if not out:
        raise ValueError("no images.")
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise ValueError(f"images have different sizes {sorted(shapes)[:3]}...; pass image_size= to resize them.")
    return np.stack(out)


def _images_to_array(images: Iterable[Any], image_size: int | None) -> np.ndarray:
    """Stack images as uint8 ``(n, S, S, 3)``: RGB, resized to ``image_size`` (bilinear) when given."""
    return _stack([_image_to_array(img, image_size, i) for i, img in enumerate(images)])


def _consume(records: Any, image_column: str, image_size: int | None, max_samples: int | None, what: str):
    """One pass over rows (list of dicts, DataFrame, or a Hub ``Dataset`` / ``IterableDataset``).

    Each image is converted (and resized) as soon as its row is read, so only
    the resized arrays are ever held in memory. Returns ``(frame, images)``:
    the other columns as a DataFrame and the uint8 image array.
    """
    import os

    import pandas as pd

    if isinstance(records, (str, bytes, os.PathLike)):
        raise InvalidInputError(
            f"{what}: records={records!r} is a path, not rows. records takes a list of dicts, a pandas DataFrame or "
            "a Hugging Face Dataset; read the file first, e.g. records=pd.read_parquet(path) or "
            "records=datasets.load_dataset('parquet', data_files=path)['train']."
        )
    if isinstance(records, Mapping):
        raise InvalidInputError(
            f"{what}: records is a dict (keys {sorted(map(str, records))[:5]}), not rows. Pass a list of dicts (one "
            "per pair) or a pandas DataFrame, e.g. records=pd.DataFrame(columns_dict)."
        )
    names = getattr(records, "column_names", None)
    if isinstance(records, pd.DataFrame):
        names = list(records.columns)
        rows: Iterable[Mapping[str, Any]] = records.to_dict("records")
    else:
        rows = records
    if names is not None and image_column not in names:
        raise ValueError(f"{what}: image column {image_column!r} not found; available: {list(names)}. "
                         "Pass image_column= (or columns={'image': ...}).")
    meta, images = [], []
    for i, row in enumerate(rows):
        if max_samples is not None and i >= max_samples:
            break
        if not isinstance(row, Mapping):
            raise InvalidInputError(
                f"{what}: records row {i} is a {type(row).__name__}, not a dict of columns. records takes a list of "
                "dicts, a pandas DataFrame or a Hugging Face Dataset."
            )
        if image_column not in row:
            raise ValueError(f"{what}: image column {image_column!r} not found; available: {list(row)}. "
                             "Pass image_column= (or columns={'image': ...}).")
        images.append(_image_to_array(row[image_column], image_size, i))
        meta.append({k: v for k, v in row.items() if k != image_column})
    return pd.DataFrame(meta), _stack(images)
