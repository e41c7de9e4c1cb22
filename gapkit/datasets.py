"""Paired image–text data: offline generators and online (Hugging Face) loaders.

Every loader returns a :class:`PairedDataset`: uint8 images ``(n, H, W, 3)``,
one string per image, labels, and a one-sentence description for the executed
page. Row ``i`` of the images and ``texts[i]`` are a matched pair.

Offline (deterministic given ``seed``, no network; used by ``make book`` / CI):

- :func:`load_digits_captions` — scikit-learn's 8×8 digits, upscaled to RGB,
  with templated captions ("a photo of the digit three"). Chapters 1–3.
- :func:`make_shapes` — procedurally drawn shapes with six ground-truth
  attributes; the caption describes ``n_described`` of them. Fewer described
  attributes = the text carries less information than the image (Schrodi
  2025's *information imbalance*). Chapter 2.
- :func:`make_multimodal_task` — a supervised task shaped like the medical
  datasets: a lesion-like image and a metadata sentence ("Patient aged 54,
  male, lesion on the back.") each carry part of the label, so fusing the two
  modalities beats either alone. Chapter 5.

Online (Colab, ``pip install datasets``):

- :func:`load_ham10000` — HAM10000 dermoscopy, 7 classes, with the text
  ``"Patient diagnosed via {dx_type}. Age: {age}. Sex: {sex}. Localization: {localization}."``
  used by Restrepo 2026. Chapter 5.
- :func:`load_captions` — a natural image–caption set (COCO 2017 val or Flickr30k).

Both online loaders accept ``records=`` (a list of dicts or a pandas DataFrame
in the Hub's column format, images as PIL images, arrays, ``{"bytes": ...}``
dicts or paths), which runs the same conversion code offline; the tests use
small local fixtures this way.

Published real embeddings (no images, embeddings only):
:func:`load_published_embeddings` (Liang et al. 2022: CLIP, ConVIRT, CLASP, VideoCLIP),
implemented in :mod:`gapkit._published` and re-exported here. Chapters 1, 3, 4, 6.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ._validation import (SEED, Integral, Interval, InvalidInputError, Options, Real, as_uint8_image, check_texts,
                          validate_params)
from ._published import (  # noqa: F401  (real published embeddings, re-exported here)
    PUBLISHED_EMBEDDINGS, PublishedDataError, PublishedDataUnavailableError, PublishedEmbeddings, PublishedSet,
    available_published_embeddings, glue_or_nan, load_published_embeddings, published_or_note,
)

__all__ = [
    "PairedDataset",
    "load_digits_captions",
    "make_shapes",
    "make_multimodal_task",
    "load_ham10000",
    "load_captions",
    "DIGIT_TEMPLATES",
    "DIGIT_NAMES",
    "SHAPE_ATTRIBUTES",
    "HAM10000_TEMPLATE",
    "HAM10000_CLASSES",
    "HAM10000_HUB",
    "CAPTION_SOURCES",
    "PERSON_WORDS",
    "mentions_person",
    # published real embeddings (gapkit/_published.py)
    "load_published_embeddings",
    "available_published_embeddings",
    "published_or_note",
    "glue_or_nan",
    "PublishedEmbeddings",
    "PublishedSet",
    "PublishedDataError",
    "PublishedDataUnavailableError",
    "PUBLISHED_EMBEDDINGS",
]


# ---------------------------------------------------------------------------
# the container
# ---------------------------------------------------------------------------


@dataclass
class PairedDataset:
    """Matched images and texts with labels.

    Attributes
    ----------
    images : np.ndarray
        uint8 array ``(n, H, W, 3)``, a read-only view (its content fingerprint is
        remembered, see :meth:`content_fingerprints`); edit a copy
        (``ds.images.copy()``) and build a new dataset, e.g. with ``dataclasses.replace``.
    texts : list of str
        ``texts[i]`` describes ``images[i]``.
    labels : np.ndarray
        1-D class ids (binary or multiclass) or 2-D 0/1 ``(n, n_labels)`` (multilabel).
    label_names : list of str
        Name of each class id (or of each column for multilabel).
    name : str
        Short id (used in cache file names and provenance lines).
    description : str
        One sentence for the executed page: what data this is.
    attributes : pandas.DataFrame or None
        Ground-truth attributes, one row per pair (generators only).
    """

    images: np.ndarray
    texts: list[str]
    labels: np.ndarray
    label_names: list[str]
    name: str
    description: str = ""
    attributes: Any = None  # pandas.DataFrame | None

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"{self.name}: images must be a uint8 array of shape (n, H, W, 3), got shape {images.shape}."
            )
        if images.dtype != np.uint8:
            raise ValueError(
                f"{self.name}: images must be uint8 (0-255), got {images.dtype}; "
                "use np.clip(x * 255, 0, 255).astype(np.uint8) for float images in [0, 1]."
            )
        n = images.shape[0]
        texts = [str(t) for t in check_texts(self.texts, name=f"{self.name}: texts")]  # np.str_ -> str
        if len(texts) != n:
            raise ValueError(f"{self.name}: {n} images but {len(texts)} texts; row i of each must be a pair.")
        labels = np.asarray(self.labels)
        if labels.ndim not in (1, 2) or labels.shape[0] != n:
            raise ValueError(
                f"{self.name}: labels must have one entry (1-D) or row (2-D multilabel) per pair; "
                f"got shape {labels.shape} for {n} pairs."
            )
        if self.attributes is not None and len(self.attributes) != n:
            raise ValueError(f"{self.name}: attributes has {len(self.attributes)} rows for {n} pairs.")
        images = images.view()
        images.flags.writeable = False  # content fingerprints are memoised: the pixels must not change
        self.images = images
        self.texts = texts
        self.labels = labels
        self.label_names = [str(s) for s in self.label_names]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        h, w = self.images.shape[1:3]
        return (
            f"<PairedDataset {self.name!r}: {len(self)} pairs, images {h}x{w}, "
            f"{len(self.label_names)} {'labels' if self.labels.ndim == 2 else 'classes'}>"
        )

    @property
    def is_multilabel(self) -> bool:
        return self.labels.ndim == 2

    def subset(self, idx: Any, *, name: str | None = None) -> "PairedDataset":
        """The pairs at ``idx`` (integer indices or a boolean mask), in that order."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask of shape {idx.shape} for {len(self)} pairs.")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset index out of range for {len(self)} pairs.")
        attrs = None
        if self.attributes is not None:
            attrs = self.attributes.iloc[idx].reset_index(drop=True)
        return PairedDataset(
            images=self.images[idx],
            texts=[self.texts[i] for i in idx],
            labels=self.labels[idx],
            label_names=list(self.label_names),
            name=name if name is not None else f"{self.name}/subset",
            description=self.description,
            attributes=attrs,
        )

    @validate_params({"test_size": [Interval(Real, 0, 1, closed="neither")], "seed": [SEED]})
    def split(self, test_size: float = 0.2, seed: int = 42) -> tuple["PairedDataset", "PairedDataset"]:
        """Stratified, seeded train/test split (Restrepo 2026's protocol: 80/20, seed 42).

        1-D labels are stratified directly; multilabel rows are stratified on
        their label combination when every combination occurs at least twice,
        otherwise the split is random (still seeded).

        Returns
        -------
        (train, test) : tuple of PairedDataset
        """
        from sklearn.model_selection import train_test_split

        n = len(self)
        strat: np.ndarray | None
        if self.labels.ndim == 1:
            strat = self.labels
        else:
            combos = np.array(["".join(map(str, row.astype(int))) for row in self.labels])
            _, counts = np.unique(combos, return_counts=True)
            strat = combos if counts.min() >= 2 else None
        if strat is not None:
            _, counts = np.unique(strat, return_counts=True)
            if counts.min() < 2:
                raise ValueError(
                    f"{self.name}: cannot stratify, a class has only {counts.min()} pair(s). "
                    "Use more data or drop the rare class."
                )
        train_idx, test_idx = train_test_split(
            np.arange(n), test_size=test_size, random_state=seed, stratify=strat
        )
        return (
            self.subset(np.sort(train_idx), name=f"{self.name}/train"),
            self.subset(np.sort(test_idx), name=f"{self.name}/test"),
        )

    def fingerprint(self) -> str:
        """Content hash (hex, 16 chars) of images, texts, labels and label names: part of cache keys."""
        h = hashlib.blake2b(digest_size=8)
        h.update(repr((self.images.shape, str(self.images.dtype))).encode())
        h.update(np.ascontiguousarray(self.images).data)
        h.update(json.dumps(self.texts, ensure_ascii=False).encode("utf-8"))
        lab = np.ascontiguousarray(self.labels)
        h.update(repr((lab.shape, str(lab.dtype))).encode())
        h.update(lab.tobytes())
        h.update(json.dumps(self.label_names).encode())
        return h.hexdigest()

    def content_fingerprints(self) -> tuple[str, str]:
        """``(images, texts)`` content fingerprints, exactly as :func:`gapkit.cache.cached_embed` computes them.

        The image fingerprint (sha256 of every image, in threads) is computed once
        per dataset object and remembered: ``images`` is a read-only view, so the
        pixels cannot change under it. Texts are hashed on every call (cheap; the
        list may be edited). Used by :func:`gapkit.cache.cached_embed_dataset`, so
        a cache hit costs a file read, not a pass over every pixel.
        """
        from .cache import fingerprint_images, fingerprint_texts

        memo = self.__dict__.get("_image_fp")
        if memo is None or memo[0] is not self.images:
            memo = (self.images, fingerprint_images(self.images))
            self._image_fp = memo
        return memo[1], fingerprint_texts(self.texts)

    def class_counts(self) -> dict[str, int]:
        """Pairs per class (per label column for multilabel)."""
        if self.labels.ndim == 2:
            return {name: int(c) for name, c in zip(self.label_names, self.labels.sum(axis=0))}
        ids, counts = np.unique(self.labels, return_counts=True)
        return {self.label_names[int(i)] if int(i) < len(self.label_names) else str(i): int(c)
                for i, c in zip(ids, counts)}


# ---------------------------------------------------------------------------
# image helpers
# ---------------------------------------------------------------------------


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


def _require_datasets():
    try:
        import datasets  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "Loading data from the Hugging Face Hub needs the `datasets` package: "
            "`pip install datasets` (or `pip install 'gapkit[data]'`). Offline, pass records= "
            "(a list of dicts / DataFrame in the Hub's format) or use the offline generators."
        ) from exc
    return datasets


def _load_hub(dataset_id: str, split: str, max_samples: int | None, config: str | None = None):
    """A Hub split to iterate once: streamed (first ``max_samples`` rows) or downloaded (all rows)."""
    datasets = _require_datasets()
    if max_samples is not None:
        return datasets.load_dataset(dataset_id, config, split=split, streaming=True).take(int(max_samples))
    return datasets.load_dataset(dataset_id, config, split=split)


# ---------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: Caption templates of :func:`load_digits_captions`; ``{name}`` is the word, ``{digit}`` the numeral.
DIGIT_TEMPLATES = (
    "a photo of the digit {name}",
    "a handwritten {name}",
    "an image of the number {name}",
    "a blurry picture of a {digit}",
    "the digit {digit}, written by hand",
)


@validate_params({"seed": [SEED], "image_size": [Interval(Integral, 1, None, closed="left")]})
def load_digits_captions(
    seed: int = 0,
    template: str | Sequence[str] = DIGIT_TEMPLATES,
    *,
    image_size: int = 32,
) -> PairedDataset:
    """scikit-learn's 1,797 handwritten digits as image–caption pairs (offline).

    Each 8×8 grey image (values 0–16) is scaled to 0–255, upscaled bilinearly
    to ``image_size`` and repeated over 3 channels. Each caption is a template
    filled with the digit's word (``{name}``, "three") or numeral
    (``{digit}``, "3"); with several templates each pair draws one at random
    (seeded), so ``seed`` varies the captions and nothing else.

    Chapters 1–3 (offline profile).
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    templates = (template,) if isinstance(template, str) else tuple(template)
    if not templates:
        raise ValueError("template: need at least one caption template.")
    raw = load_digits()
    grey = np.clip(raw.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    imgs = np.empty((len(grey), image_size, image_size, 3), dtype=np.uint8)
    for i, g in enumerate(grey):
        up = np.asarray(Image.fromarray(g).resize((image_size, image_size), Image.BILINEAR))
        imgs[i] = up[..., None]
    labels = raw.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    choice = rng.integers(0, len(templates), size=len(labels))
    texts = [templates[c].format(name=DIGIT_NAMES[y], digit=int(y)) for c, y in zip(choice, labels)]
    import pandas as pd

    attrs = pd.DataFrame({"digit": labels, "template": choice})
    return PairedDataset(
        images=imgs,
        texts=texts,
        labels=labels,
        label_names=list(DIGIT_NAMES),
        name=f"digits-captions(seed={seed},templates={len(templates)})",
        description=(
            f"{len(labels)} handwritten digits from scikit-learn (8×8, upscaled to {image_size}×{image_size}), "
            f"each paired with a templated caption such as “{texts[0]}” ({len(templates)} template(s))."
        ),
        attributes=attrs,
    )


# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------

#: Attribute -> values of :func:`make_shapes`, in the order captions describe them.
SHAPE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "shape": ("circle", "square", "triangle", "cross", "diamond"),
    "colour": ("red", "green", "blue", "yellow", "purple", "orange"),
    "size": ("small", "large"),
    "position": ("top left", "top right", "bottom left", "bottom right"),
    "background": ("dark", "light"),
    "texture": ("solid", "striped"),
}

_RGB = {
    "red": (220, 40, 40),
    "green": (40, 175, 60),
    "blue": (50, 85, 235),
    "yellow": (235, 215, 40),
    "purple": (150, 60, 205),
    "orange": (245, 140, 25),
}


def _shape_mask(shape: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    dy, dx = yy - cy, xx - cx
    if shape == "circle":
        return dy * dy + dx * dx <= r * r
    if shape == "square":
        s = 0.82 * r
        return (np.abs(dx) <= s) & (np.abs(dy) <= s)
    if shape == "triangle":  # apex up: rows from cy - r to cy + 0.8 r, half-width grows linearly
        t = (dy + r) / (1.8 * r)
        return (t >= 0) & (t <= 1) & (np.abs(dx) <= t * r)
    if shape == "cross":
        w = 0.34 * r
        return ((np.abs(dx) <= w) & (np.abs(dy) <= r)) | ((np.abs(dy) <= w) & (np.abs(dx) <= r))
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= 1.15 * r
    raise ValueError(f"unknown shape {shape!r}")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _shape_caption(row: Mapping[str, str], described: Sequence[str]) -> str:
    """Caption naming exactly the attributes in ``described`` (fixed word order)."""
    d = set(described)
    adjs = [row[a] for a in ("size", "colour", "texture") if a in d]
    noun = row["shape"] if "shape" in d else "shape"
    words = adjs + [noun]
    text = f"{_article(words[0])} {' '.join(words)}"
    if "position" in d:
        text += f" in the {row['position']}"
    if "background" in d:
        text += f" on a {row['background']} background"
    return text + "."


@validate_params({"n": [Interval(Integral, 1, None, closed="left")], "seed": [SEED],
                  "n_described": [Interval(Integral, 0, 6, closed="both")],
                  "image_size": [Interval(Integral, 16, None, closed="left")], "described": [Options("first", "random")],
                  "noise": [Interval(Real, 0, None, closed="left")]})
def make_shapes(
    n: int = 2000,
    seed: int = 0,
    n_described: int = 6,
    *,
    image_size: int = 32,
    described: str = "first",
    label: str = "shape",
    noise: float = 8.0,
) -> PairedDataset:
    """Procedurally drawn shapes whose captions describe ``n_described`` of six attributes.

    Each image has six independent, uniformly drawn attributes (see
    :data:`SHAPE_ATTRIBUTES`): shape, colour, size (small/large), position
    (quadrant), background (dark/light) and texture (solid/striped), plus
    position jitter, a random background tint and Gaussian pixel noise
    (``noise`` grey levels). The caption names exactly ``n_described`` of the
    attributes — the *information-imbalance knob*: with fewer described
    attributes the text carries less information than the image (Schrodi
    2025). ``described="first"`` describes the first ``n_described``
    attributes in the order shape, colour, size, position, background,
    texture ("a small red circle in the top left."); ``"random"`` draws a
    seeded random subset per pair (unnamed shapes become "shape").

    Parameters
    ----------
    n : int
        Number of pairs.
    seed : int
        Seeds everything (attributes, jitter, noise, random subsets).
    n_described : int
        0–6 attributes named by each caption.
    image_size : int
        Side length in pixels (≥ 16).
    described : {"first", "random"}
    label : str
        Which attribute gives ``labels`` (default ``"shape"``).
    noise : float
        Standard deviation of the pixel noise, in grey levels.

    Returns
    -------
    PairedDataset
        ``attributes`` holds every attribute and a ``described`` column
        (comma-separated names of the attributes the caption mentions).

    Chapter 2 (information imbalance and the gap).
    """
    import pandas as pd

    names = list(SHAPE_ATTRIBUTES)
    if not 0 <= n_described <= len(names):
        raise ValueError(f"n_described must be between 0 and {len(names)}, got {n_described}.")
    if described not in ("first", "random"):
        raise ValueError(f"described must be 'first' or 'random', got {described!r}.")
    if label not in SHAPE_ATTRIBUTES:
        raise ValueError(f"label must be one of {names}, got {label!r}.")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}.")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}.")
    rng = np.random.default_rng(seed)
    codes = {a: rng.integers(0, len(v), size=n) for a, v in SHAPE_ATTRIBUTES.items()}
    S = image_size
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64) + 0.5
    images = np.empty((n, S, S, 3), dtype=np.uint8)
    jitter = rng.uniform(-0.06, 0.06, size=(n, 2)) * S
    tint = rng.uniform(-12, 12, size=(n, 3))
    stripe_phase = rng.integers(0, 4, size=n)
    # captions draw from their own stream, so images are identical for every n_described / described
    caption_rng = np.random.default_rng([seed, 1])
    subsets: list[tuple[str, ...]] = []
    for i in range(n):
        row = {a: SHAPE_ATTRIBUTES[a][codes[a][i]] for a in names}
        base = 35.0 if row["background"] == "dark" else 205.0
        img = np.empty((S, S, 3), dtype=np.float64)
        img[:] = base + tint[i]
        q = SHAPE_ATTRIBUTES["position"].index(row["position"])
        cy = (0.27 if q < 2 else 0.73) * S + jitter[i, 0]
        cx = (0.27 if q % 2 == 0 else 0.73) * S + jitter[i, 1]
        r = (0.11 if row["size"] == "small" else 0.21) * S
        mask = _shape_mask(row["shape"], yy, xx, cy, cx, r)
        colour = np.array(_RGB[row["colour"]], dtype=np.float64)
        if row["texture"] == "striped":
            band = ((yy + xx + stripe_phase[i]) // max(2, S // 16)) % 2 == 0
            shade = np.where(band, 1.0, 0.45)[..., None]
            img[mask] = (colour * shade)[mask]
        else:
            img[mask] = colour
        img += rng.normal(0.0, noise, size=img.shape)
        images[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        if described == "first":
            subsets.append(tuple(names[:n_described]))
        else:
            pick = np.sort(caption_rng.choice(len(names), size=n_described, replace=False))
            subsets.append(tuple(names[j] for j in pick))
    table = pd.DataFrame({a: [SHAPE_ATTRIBUTES[a][c] for c in codes[a]] for a in names})
    texts = [_shape_caption(table.iloc[i], subsets[i]) for i in range(n)]
    table["described"] = [",".join(s) for s in subsets]
    how = "the first" if described == "first" else "a random"
    return PairedDataset(
        images=images,
        texts=texts,
        labels=codes[label].astype(np.int64),
        label_names=list(SHAPE_ATTRIBUTES[label]),
        name=f"shapes(n={n},seed={seed},k={n_described},{described},size={S})",
        description=(
            f"{n} procedurally drawn {S}×{S} shapes with six attributes (shape, colour, size, position, "
            f"background, texture); each caption names {how} {n_described} of them, e.g. “{texts[0]}”."
        ),
        attributes=table,
    )


# ---------------------------------------------------------------------------
# a supervised multimodal task shaped like the medical datasets
# ---------------------------------------------------------------------------

_SITES = ("back", "face", "chest", "abdomen", "upper extremity", "lower extremity", "scalp", "foot")
#: additive risk of each site in the metadata score (higher = more likely positive)
_SITE_RISK = {"back": 0.6, "face": 0.9, "chest": 0.2, "abdomen": -0.2, "upper extremity": -0.4,
              "lower extremity": -0.6, "scalp": 0.5, "foot": -1.0}

MULTIMODAL_TEMPLATE = "Patient aged {age}, {sex}, lesion on the {localization}."


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-12)


@validate_params({"n": [Interval(Integral, 1, None, closed="left")], "seed": [SEED],
                  "n_classes": [Interval(Integral, 2, None, closed="left")],
                  "image_weight": [Interval(Real, None, None)], "text_weight": [Interval(Real, None, None)],
                  "noise": [Interval(Real, 0, None, closed="left")],
                  "positive_rate": [Interval(Real, 0, 1, closed="neither")],
                  "image_size": [Interval(Integral, 8, None, closed="left")]})
def make_multimodal_task(
    n: int = 3000,
    seed: int = 0,
    *,
    n_classes: int = 2,
    image_weight: float = 1.0,
    text_weight: float = 1.0,
    noise: float = 0.6,
    positive_rate: float = 0.5,
    image_size: int = 32,
    template: str = MULTIMODAL_TEMPLATE,
) -> PairedDataset:
    """A supervised image + metadata-sentence task in which fusion beats either modality.

    Each pair is a lesion-like image (a dark blob on a skin-toned background)
    and a metadata sentence (``template``, default
    ``"Patient aged {age}, {sex}, lesion on the {localization}."``). The label
    is a noisy function of both:

    - image score ``z_img`` = standardised lesion radius + standardised
      lesion darkness (border irregularity and skin tone are drawn too but are
      nuisance attributes);
    - metadata score ``z_meta`` = standardised age + a per-site risk + 0.3 for
      male (see ``_SITE_RISK``);
    - ``s = image_weight·z_img + text_weight·z_meta + noise·ε``, ε ~ N(0, 1);
      binary: label 1 for the top ``positive_rate`` fraction of ``s``;
      multiclass: ``n_classes`` equal-frequency bins of ``s`` (ordinal grades).

    So a classifier on the image alone or the sentence alone recovers only
    part of ``s``, and early fusion does clearly better — the setting of
    Restrepo 2026's supervised protocol. ``attributes`` holds every ground-truth
    attribute plus ``image_score``, ``meta_score`` and ``score``.

    Chapter 5 (offline profile).
    """
    import pandas as pd

    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}.")
    if not 0.0 < positive_rate < 1.0:
        raise ValueError(f"positive_rate must be in (0, 1), got {positive_rate}.")
    if n < 4 * n_classes:
        raise ValueError(f"n={n} is too small for {n_classes} classes; use n >= {4 * n_classes}.")
    rng = np.random.default_rng(seed)
    S = image_size
    radius = rng.uniform(0.12, 0.34, size=n)  # fraction of the image side
    darkness = rng.uniform(0.0, 1.0, size=n)
    irregularity = rng.uniform(0.0, 1.0, size=n)  # nuisance
    skin = rng.uniform(0.0, 1.0, size=n)  # nuisance: skin tone
    age = rng.integers(18, 90, size=n)
    sex = rng.choice(np.array(["male", "female"]), size=n)
    site = rng.choice(np.array(_SITES), size=n)
    z_img = _standardise(_standardise(radius) + _standardise(darkness))
    z_meta = _standardise(_standardise(age.astype(float)) + np.array([_SITE_RISK[s] for s in site])
                          + 0.3 * (sex == "male"))
    score = image_weight * z_img + text_weight * z_meta + noise * rng.normal(size=n)
    if n_classes == 2:
        labels = (score > np.quantile(score, 1.0 - positive_rate)).astype(np.int64)
        label_names = ["negative", "positive"]
    else:
        edges = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
        labels = np.searchsorted(edges, score).astype(np.int64)
        label_names = [f"grade {c}" for c in range(n_classes)]

    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64) + 0.5
    images = np.empty((n, S, S, 3), dtype=np.uint8)
    light, tan = np.array([238.0, 200.0, 175.0]), np.array([165.0, 115.0, 80.0])
    brown_light, brown_dark = np.array([170.0, 110.0, 70.0]), np.array([45.0, 25.0, 20.0])
    centres = S / 2 + rng.uniform(-0.08, 0.08, size=(n, 2)) * S
    lobes = rng.integers(3, 7, size=n)
    phase = rng.uniform(0, 2 * np.pi, size=n)
    for i in range(n):
        img = np.empty((S, S, 3))
        img[:] = light * (1 - skin[i]) + tan * skin[i]
        dy, dx = yy - centres[i, 0], xx - centres[i, 1]
        ang = np.arctan2(dy, dx)
        r = radius[i] * S * (1 + 0.25 * irregularity[i] * np.sin(lobes[i] * ang + phase[i]))
        dist = np.sqrt(dy * dy + dx * dx)
        alpha = np.clip(r - dist + 0.5, 0.0, 1.0)[..., None]  # soft 1-pixel edge
        lesion = brown_light * (1 - darkness[i]) + brown_dark * darkness[i]
        img = img * (1 - alpha) + lesion * alpha
        img += rng.normal(0.0, 6.0, size=img.shape)
        images[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    texts = [template.format(age=int(a), sex=s, localization=loc) for a, s, loc in zip(age, sex, site)]
    attrs = pd.DataFrame({
        "radius": radius, "darkness": darkness, "irregularity": irregularity, "skin_tone": skin,
        "age": age, "sex": sex, "localization": site,
        "image_score": z_img, "meta_score": z_meta, "score": score,
    })
    kind = "binary" if n_classes == 2 else f"{n_classes}-class"
    return PairedDataset(
        images=images,
        texts=texts,
        labels=labels,
        label_names=label_names,
        name=f"multimodal-task(n={n},seed={seed},classes={n_classes},w={image_weight:g}/{text_weight:g},"
             f"noise={noise:g})",
        description=(
            f"{n} synthetic lesion images ({S}×{S}) with metadata sentences such as “{texts[0]}”; the {kind} "
            "label depends on lesion size and darkness (image) and on age, site and sex (text), so fusion "
            "beats either modality alone."
        ),
        attributes=attrs,
    )


# ---------------------------------------------------------------------------
# HAM10000 (online)
# ---------------------------------------------------------------------------

#: The text Restrepo 2026 builds from HAM10000's metadata.
HAM10000_TEMPLATE = "Patient diagnosed via {dx_type}. Age: {age}. Sex: {sex}. Localization: {localization}."

#: The 7 diagnostic classes (HAM10000's ``dx`` codes) in label order.
HAM10000_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")

#: Long names some Hub copies use for ``dx`` -> the short code.
_HAM_DX_ALIASES = {
    "actinic_keratoses": "akiec", "actinic keratoses": "akiec", "akiec": "akiec",
    "basal_cell_carcinoma": "bcc", "basal cell carcinoma": "bcc", "bcc": "bcc",
    "benign_keratosis-like_lesions": "bkl", "benign keratosis-like lesions": "bkl", "bkl": "bkl",
    "dermatofibroma": "df", "df": "df",
    "melanoma": "mel", "mel": "mel",
    "melanocytic_nevi": "nv", "melanocytic nevi": "nv", "nv": "nv",
    "vascular_lesions": "vasc", "vascular lesions": "vasc", "vasc": "vasc",
}

#: Default Hub copy: ``marmal88/skin_cancer`` (splits train 9,577 / validation 2,492 / test 1,285;
#: columns image, image_id, lesion_id, dx, dx_type, age, sex, localization).
HAM10000_HUB = {
    "dataset_id": "marmal88/skin_cancer",
    "columns": {"image": "image", "dx": "dx", "dx_type": "dx_type", "age": "age", "sex": "sex",
                "localization": "localization"},
}


def _format_age(age: Any) -> str:
    """``80.0`` -> ``"80"``; missing -> ``"unknown"``; anything else as written."""
    if age is None:
        return "unknown"
    try:
        val = float(age)
    except (TypeError, ValueError):
        return str(age)
    if math.isnan(val):
        return "unknown"
    return str(int(val)) if val.is_integer() else f"{val:g}"


def _missing_text(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "unknown"
    return str(x)


@validate_params({"image_size": [None, Interval(Integral, 1, None, closed="left")],
                  "max_samples": [None, Interval(Integral, 1, None, closed="left")]})
def load_ham10000(
    split: str = "train",
    records: Any = None,
    *,
    dataset_id: str = HAM10000_HUB["dataset_id"],
    columns: Mapping[str, str] | None = None,
    template: str = HAM10000_TEMPLATE,
    image_size: int | None = 224,
    max_samples: int | None = None,
) -> PairedDataset:
    """HAM10000 dermoscopy with Restrepo 2026's metadata sentence (7 classes).

    Text of pair ``i``:
    ``"Patient diagnosed via {dx_type}. Age: {age}. Sex: {sex}. Localization: {localization}."``
    Ages are written without a trailing ``.0`` (``80.0`` -> ``"80"``) and a
    missing value is written ``unknown``. Labels are the ``dx`` codes in the
    order :data:`HAM10000_CLASSES` (long names such as ``melanocytic_Nevi``
    are mapped to their codes).

    Parameters
    ----------
    split : str
        Hub split (``marmal88/skin_cancer`` has ``train``, ``validation``, ``test``).
    records : list of dict or pandas.DataFrame, optional
        Rows in the Hub's column format; given, nothing is downloaded (offline tests).
    dataset_id : str
        Hub dataset id (default :data:`HAM10000_HUB`).
    columns : mapping, optional
        Overrides of the role -> column mapping (roles: image, dx, dx_type, age, sex, localization).
    template : str
        The sentence; any role name can appear as a field.
    image_size : int or None
        Resize images to a square of this side (bilinear); ``None`` keeps them
        (they must then all have the same size). 224 × 224 × 3 bytes per image:
        about 1.5 GB for all 10,015 images, so pass ``max_samples`` on small machines.
    max_samples : int, optional
        Stream only the first ``max_samples`` rows from the Hub.

    Chapter 5 (full profile).
    """
    cols = dict(HAM10000_HUB["columns"])
    cols.update(columns or {})
    if records is None:
        records = _load_hub(dataset_id, split, max_samples)
        source = f"{dataset_id} ({split})"
    else:
        source = "records"
    frame, images = _consume(records, cols["image"], image_size, max_samples, "HAM10000")
    missing = [f"{role} -> {c!r}" for role, c in cols.items() if role != "image" and c not in frame.columns]
    if missing:
        raise ValueError(
            f"HAM10000: columns not found: {', '.join(missing)}; available: {list(frame.columns)}. "
            "Pass columns={'role': 'column'} to map them."
        )
    dx_raw = frame[cols["dx"]].astype(str).str.strip()
    dx = dx_raw.str.lower().map(_HAM_DX_ALIASES)
    if dx.isna().any():
        unknown = sorted(set(dx_raw[dx.isna()]))
        raise ValueError(f"HAM10000: unknown dx values {unknown[:5]}; expected one of {HAM10000_CLASSES}.")
    labels = np.array([HAM10000_CLASSES.index(d) for d in dx], dtype=np.int64)
    texts = []
    for _, row in frame.iterrows():
        fields = {role: _missing_text(row[c]) for role, c in cols.items() if role != "image"}
        fields["age"] = _format_age(row[cols["age"]])
        texts.append(template.format(**fields))
    attrs = frame[[c for role, c in cols.items() if role != "image"]].copy()
    attrs["dx_code"] = list(dx)
    n = len(texts)
    return PairedDataset(
        images=images,
        texts=texts,
        labels=labels,
        label_names=list(HAM10000_CLASSES),
        name=f"ham10000({dataset_id},{split},n={n})",
        description=(
            f"{n} HAM10000 dermoscopy images ({source}), 7 diagnostic classes, each paired with a sentence "
            f"built from the patient metadata, e.g. “{texts[0]}”."
        ),
        attributes=attrs,
    )


# ---------------------------------------------------------------------------
# natural image-caption sets (online)
# ---------------------------------------------------------------------------

#: Known caption sets: Hub id, default split and the image / caption columns.
#: A caption column holding a list (several captions per image) uses ``caption_index``.
CAPTION_SOURCES: dict[str, dict[str, str]] = {
    "coco": {"dataset_id": "lmms-lab/COCO-Caption2017", "split": "val", "image": "image", "caption": "answer",
             "title": "COCO 2017 val"},
    "flickr30k": {"dataset_id": "lmms-lab/flickr30k", "split": "test", "image": "image", "caption": "caption",
                  "title": "Flickr30k"},
}


#: Words that mark a person in a caption (``load_captions(..., label="person")``), plurals included.
PERSON_WORDS = ("man", "men", "woman", "women", "person", "people", "boy", "girl", "child", "children", "kid",
                "player", "lady", "guy")
_PERSON_RE = re.compile(r"\b(" + "|".join(PERSON_WORDS) + r")s?\b")


def mentions_person(caption: str) -> bool:
    """Whether a caption names a person (one of :data:`PERSON_WORDS`, case-insensitive, whole words)."""
    return bool(_PERSON_RE.search(str(caption).lower()))


def _caption_list(cap: Any, i: int, name: str) -> list[str]:
    """Row ``i``'s captions as a list of non-blank strings; anything else raises, naming the row."""
    if isinstance(cap, str):
        caps = [cap]
    elif isinstance(cap, (list, tuple, np.ndarray)):
        caps = list(cap)
    else:
        from ._validation import _describe_value

        raise InvalidInputError(
            f"{name}: row {i}: the caption is {_describe_value(cap)}, not a string or a list of strings. Drop the "
            "row or fill in its caption."
        )
    if not caps:
        raise InvalidInputError(f"{name}: row {i} has no caption; drop the row or fill in its caption.")
    for j, c in enumerate(caps):
        if not isinstance(c, str) or not c.strip():
            from ._validation import _describe_value

            what = "empty" if isinstance(c, str) else _describe_value(c)
            raise InvalidInputError(
                f"{name}: row {i}, caption {j} is {what}, not text. Drop the row or fill in the caption; gapkit does "
                "not embed missing captions as 'None' or 'nan'."
            )
    return caps


@validate_params({"caption_index": [Interval(Integral, None, None)],
                  "image_size": [None, Interval(Integral, 1, None, closed="left")],
                  "max_samples": [None, Interval(Integral, 1, None, closed="left")],
                  "label": [None, Options("person")]})
def load_captions(
    name: str = "coco",
    records: Any = None,
    *,
    split: str | None = None,
    dataset_id: str | None = None,
    image_column: str | None = None,
    caption_column: str | None = None,
    caption_index: int = 0,
    image_size: int | None = 224,
    max_samples: int | None = 5000,
    label: str | None = None,
) -> PairedDataset:
    """A natural image–caption set: one caption per image (COCO 2017 val or Flickr30k).

    Parameters
    ----------
    name : {"coco", "flickr30k"}
        Preset from :data:`CAPTION_SOURCES`; the other arguments override it.
    records : list of dict or pandas.DataFrame, optional
        Rows in the Hub's format; given, nothing is downloaded.
    split, dataset_id, image_column, caption_column : str, optional
        Overrides of the preset.
    caption_index : int
        Which caption to keep when the caption column holds a list, indexed as
        in Python (``-1`` is the last); an index out of range for a row raises.
    image_size : int or None
        Resize images to a square of this side (``None`` keeps them).
    max_samples : int or None
        Stream only this many rows (default 5,000, the size Liang 2022 measures on).
    label : {None, "person"}
        ``None``: all labels zero (``label_names=["image"]``), caption sets have no
        classes. ``"person"``: a binary label for supervised evaluation, 1 when one
        of the image's *other* captions names a person (:func:`mentions_person`),
        so the label is not computed from the input text (which is, of course,
        informative about it). Needs several captions per image (COCO has five).

    Chapters 1, 3, 5 (full profile).
    """
    if name not in CAPTION_SOURCES and dataset_id is None:
        raise ValueError(f"unknown caption set {name!r}; known: {sorted(CAPTION_SOURCES)} (or pass dataset_id=).")
    preset = dict(CAPTION_SOURCES.get(name, {"split": "test", "image": "image", "caption": "caption",
                                              "title": name}))
    dataset_id = dataset_id or preset.get("dataset_id")
    split = split or preset["split"]
    image_column = image_column or preset["image"]
    caption_column = caption_column or preset["caption"]
    if records is None:
        records = _load_hub(dataset_id, split, max_samples)
        source = f"{dataset_id} ({split})"
    else:
        source = "records"
    frame, images = _consume(records, image_column, image_size, max_samples, name)
    if caption_column not in frame.columns:
        raise ValueError(
            f"{name}: caption column {caption_column!r} not found; available: {list(frame.columns)}. "
            "Pass caption_column=."
        )
    texts, person = [], []
    for i, cap in enumerate(frame[caption_column]):
        caps = _caption_list(cap, i, name)
        if not -len(caps) <= caption_index < len(caps):
            raise ValueError(
                f"{name}: caption_index={caption_index} is out of range for row {i}, which has {len(caps)} "
                f"caption(s); use an index in [{-len(caps)}, {len(caps) - 1}] (Python indexing: -1 is the last)."
            )
        keep = caption_index % len(caps)  # the position Python's caps[caption_index] reads
        texts.append(caps[keep].strip())
        if label == "person":
            others = caps[:keep] + caps[keep + 1:]  # never the kept caption, whatever the sign of the index
            if not others:
                raise ValueError(
                    f"{name}: row {i} has a single caption; label='person' reads the image's *other* captions "
                    "(COCO has five per image). Use a set with several captions, or label=None."
                )
            person.append(int(any(mentions_person(c) for c in others)))
    n = len(texts)
    desc = (f"{n} natural images from {preset.get('title', name)} ({source}), each with one "
            f"human-written caption, e.g. “{texts[0]}”.")
    if label == "person":
        labels, label_names = np.asarray(person, dtype=np.int64), ["no person", "person"]
        desc += f" Label: a person is named in one of the other captions ({100 * labels.mean():.0f} % of images)."
    else:
        labels, label_names = np.zeros(n, dtype=np.int64), ["image"]
    return PairedDataset(
        images=images,
        texts=texts,
        labels=labels,
        label_names=label_names,
        name=f"captions({name},{dataset_id},{split},n={n}{',person' if label else ''})",
        description=desc,
        attributes=None,
    )
