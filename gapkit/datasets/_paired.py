"""The container: :class:`PairedDataset`, matched images and texts with labels."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import SEED, Interval, Real, check_texts, validate_params


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

    @validate_params({"share": [Interval(Real, 0, 1, closed="both")], "seed": [SEED]})
    def with_mismatched_pairs(self, share: float, seed: int = 0) -> "PairedDataset":
        """A copy in which ``share`` of the pairs have another pair's caption (chapter 5's filtering).

        ``round(share·n)`` pairs, drawn with ``seed``, pass their captions on in a cycle (the
        first chosen pair gets the second's caption, ..., the last the first's), so every chosen
        pair is mismatched unless two chosen captions are the same text. Images and labels stay.
        ``attributes["mismatched"]`` marks the chosen pairs (``attributes`` is created when
        there was none).
        """
        import pandas as pd

        n = len(self)
        k = int(round(float(share) * n))
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)) if k else np.zeros(0, int)
        texts = list(self.texts)
        if k >= 2:
            for i, j in zip(chosen, np.roll(chosen, -1)):
                texts[i] = self.texts[j]
        mark = np.zeros(n, bool)
        mark[chosen[:k] if k >= 2 else []] = True
        attrs = self.attributes.copy() if self.attributes is not None else pd.DataFrame(index=range(n))
        attrs["mismatched"] = mark
        return PairedDataset(images=self.images, texts=texts, labels=self.labels, label_names=list(self.label_names),
                             name=f"{self.name}/mismatched{share:g},seed{seed}",
                             description=f"{self.description} {int(mark.sum())} of the {n} pairs carry another "
                                         "pair's caption (mismatched).", attributes=attrs)

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
        from ..cache import fingerprint_images, fingerprint_texts

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
