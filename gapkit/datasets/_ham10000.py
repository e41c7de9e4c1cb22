"""HAM10000 (online): dermoscopy images with Restrepo 2026's metadata sentence."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from .._validation import Integral, Interval, validate_params
from ._hub import _load_hub
from ._images import _consume
from ._paired import PairedDataset


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

    Chapter 6 (full profile).
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
