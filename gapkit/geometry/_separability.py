"""Linear separability: held-out accuracy of a logistic regression telling image rows from text rows."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validation import Interval, Real, as_paired, l2_normalize, validate_params
from ._params import _FRACTION, _MAX_ROWS, _SEED

#: Default number of pairs :func:`linear_separability` trains and tests on.
SEPARABILITY_MAX_PAIRS = 50_000


def _pair_split(n: int, test_size: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test split of *pair indices* (image i and text i always share a side)."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be strictly between 0 and 1, got {test_size}.")
    n_test = min(n - 1, max(1, int(round(test_size * n))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _separability(img: np.ndarray, txt: np.ndarray, test_size: float, seed: int | None,
                  max_pairs: int | None, C: float) -> tuple[float, int]:
    from sklearn.linear_model import LogisticRegression

    n = img.shape[0]
    rng = np.random.default_rng(seed)
    if max_pairs is not None and n > max_pairs:
        if max_pairs < 2:
            raise ValueError(f"max_pairs must be at least 2, got {max_pairs}.")
        keep = np.sort(rng.choice(n, size=max_pairs, replace=False))
        img, txt, n = img[keep], txt[keep], max_pairs
    train, test = _pair_split(n, test_size, rng.integers(2**32))
    v, t = l2_normalize(img, dtype=np.float64), l2_normalize(txt, dtype=np.float64)

    def stack(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feats = np.concatenate([v[idx], t[idx]])
        labels = np.concatenate([np.ones(len(idx), dtype=int), np.zeros(len(idx), dtype=int)])
        return feats, labels

    x_tr, y_tr = stack(train)
    x_te, y_te = stack(test)
    clf = LogisticRegression(C=C, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on perfectly separable data is expected
        clf.fit(x_tr, y_tr)
    return float((clf.predict(x_te) == y_te).mean()), len(y_te)


@validate_params({"test_size": _FRACTION, "seed": _SEED, "max_pairs": _MAX_ROWS,
                  "C": [Interval(Real, 0, None, closed="neither")]})
def linear_separability(
    image: Any,
    text: Any,
    test_size: float = 0.2,
    seed: int | None = 0,
    *,
    max_pairs: int | None = SEPARABILITY_MAX_PAIRS,
    C: float = 1.0,
) -> float:
    """Held-out accuracy of a logistic regression telling image rows from text rows.

    Rows are L2-normalised first. The *pairs* are split at random (seeded) into
    ``1 − test_size`` train and ``test_size`` test, so image ``i`` and text ``i``
    always fall on the same side (no leakage through the matched partner).
    Label 1 = image, 0 = text; scikit-learn ``LogisticRegression(C=C)`` with its
    default L2 penalty. 1.0 = modalities fully apart; 0.5 = no gap (with
    identical modalities it is exactly 0.5, since both rows of a test pair get
    the same prediction).

    Parameters
    ----------
    image, text : array-like or torch.Tensor, shape (n, d)
    test_size : float
        Share of pairs held out (default 0.2).
    seed : int or None
        Seeds the subsample and the split.
    max_pairs : int or None
        Above this many pairs a seeded random subset of ``max_pairs`` pairs is
        used (default 50,000, i.e. 100,000 rows); ``None`` uses all pairs.
    C : float
        Inverse L2 regularisation strength.

    Chapter 3.
    """
    img, txt = as_paired(image, text)
    return _separability(img, txt, test_size, seed, max_pairs, C)[0]
