"""Shapes (offline): procedurally drawn shapes whose captions describe some of six attributes."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .._validation import SEED, Integral, Interval, Options, Real, validate_params
from ._paired import PairedDataset


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


@validate_params({"seed": [SEED]})
def shape_hard_negatives(dataset: PairedDataset, seed: int = 0) -> list[str]:
    """For each pair of a :func:`make_shapes` data set, its caption with one described attribute changed.

    The hard negatives of chapter 5 (Jiang et al.): the attribute (among those the caption names)
    and its new value are drawn with ``seed``; the caption is rewritten with
    :func:`_shape_caption`, so it differs from the true one in exactly that word. A caption that
    names no attribute ("a shape.") is returned unchanged.
    """
    attrs = getattr(dataset, "attributes", None)
    if attrs is None or not {*SHAPE_ATTRIBUTES, "described"} <= set(attrs.columns):
        raise ValueError("shape_hard_negatives needs a make_shapes data set (its attributes table names every "
                         "attribute and which ones each caption describes).")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(len(dataset)):
        row = {a: attrs[a].iloc[i] for a in SHAPE_ATTRIBUTES}
        described = [a for a in attrs["described"].iloc[i].split(",") if a]
        if described:
            a = described[rng.integers(len(described))]
            others = [v for v in SHAPE_ATTRIBUTES[a] if v != row[a]]
            row[a] = others[rng.integers(len(others))]
        out.append(_shape_caption(row, described))
    return out
