"""Natural image-caption sets (online): COCO 2017 val or Flickr30k, one caption per image."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .._validation import Integral, Interval, InvalidInputError, Options, validate_params
from ._hub import _load_hub
from ._images import _consume
from ._paired import PairedDataset


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
        from .._validation import _describe_value

        raise InvalidInputError(
            f"{name}: row {i}: the caption is {_describe_value(cap)}, not a string or a list of strings. Drop the "
            "row or fill in its caption."
        )
    if not caps:
        raise InvalidInputError(f"{name}: row {i} has no caption; drop the row or fill in its caption.")
    for j, c in enumerate(caps):
        if not isinstance(c, str) or not c.strip():
            from .._validation import _describe_value

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

    Chapters 1, 3, 6 (full profile).
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
