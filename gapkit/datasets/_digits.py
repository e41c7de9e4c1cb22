"""Digits (offline): scikit-learn's 8×8 digits with templated captions."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._validation import SEED, Integral, Interval, validate_params
from ._paired import PairedDataset


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
