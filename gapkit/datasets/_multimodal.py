"""A supervised multimodal task shaped like the medical datasets (offline): fusion beats either modality."""

from __future__ import annotations

import numpy as np

from .._validation import SEED, Integral, Interval, Real, validate_params
from ._paired import PairedDataset


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

    Chapter 6 (offline profile).
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
