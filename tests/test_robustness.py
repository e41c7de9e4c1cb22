"""Tests for gapkit.robustness: flip rates and zero-shot accuracy under the orthogonal shift."""

from __future__ import annotations

import numpy as np
import pytest

from gapkit.robustness import flip_rate, flip_rate_between, flip_rate_curve, zero_shot_accuracy, zero_shot_predict
from gapkit.shift import LambdaShift, OrthogonalShift


def zero_shot_data(n=300, d=48, k_classes=6, rank=16, seed=0):
    """Class prompts and captions in a text subspace; images = class direction + noise + an offset outside it."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, d)))[0]
    inside, outside = basis[:, :rank], basis[:, rank:]
    prompts = rng.normal(size=(k_classes, rank)) @ inside.T + 1.5 * inside[:, 0]
    labels = rng.integers(0, k_classes, n)
    captions = prompts[labels] + 0.3 * rng.normal(size=(n, rank)) @ inside.T
    images = (prompts[labels] + 0.8 * rng.normal(size=(n, rank)) @ inside.T
              + 2.0 * outside[:, 0] + 0.3 * rng.normal(size=(n, d - rank)) @ outside.T)
    return images, captions, prompts, labels


def test_zero_shot_accuracy_closed_form():
    classes = np.eye(3)
    queries = np.array([[1, 0.1, 0], [0, 2, 0.5], [0.1, 0, 1], [1, 1.1, 0]])
    np.testing.assert_array_equal(zero_shot_predict(queries, classes), [0, 1, 2, 1])
    assert zero_shot_accuracy(queries, classes, np.array([0, 1, 2, 0])) == 0.75
    with pytest.raises(ValueError, match="labels"):
        zero_shot_accuracy(queries, classes, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="row indices"):
        zero_shot_accuracy(queries, classes, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="dimensions"):
        zero_shot_predict(queries, np.eye(4))


def test_sigma_zero_and_fine_quantisation_do_not_flip():
    images, _, prompts, _ = zero_shot_data()
    assert flip_rate(images, prompts, "gaussian", sigma=0.0) == 0.0
    assert flip_rate(images, prompts, "quantize", bits=16) <= 0.01
    coarse = flip_rate(images, prompts, "quantize", bits=2)
    assert coarse >= flip_rate(images, prompts, "quantize", bits=16)


def test_flip_rate_grows_with_sigma():
    images, _, prompts, _ = zero_shot_data()
    curve = flip_rate_curve(images, prompts, [0.0, 0.02, 0.05, 0.1, 0.3, 1.0], n_trials=5, seed=1)
    rates = curve.flip_rate.to_numpy()
    assert rates[0] == 0 and rates[-1] > 0.3
    assert np.all(np.diff(rates) >= -0.02)          # monotone up to Monte Carlo noise
    # seeded: same seed, same answer
    assert flip_rate(images, prompts, sigma=0.1, seed=3) == flip_rate(images, prompts, sigma=0.1, seed=3)


def test_custom_perturbation_and_between():
    images, _, prompts, _ = zero_shot_data(n=50)
    assert flip_rate(images, prompts, lambda x, rng: x) == 0.0
    assert flip_rate_between(images, images, prompts) == 0.0
    assert flip_rate_between(images, -images, prompts) > 0.5


def test_orthogonal_shift_keeps_clean_zero_shot_accuracy_exactly():
    images, captions, prompts, labels = zero_shot_data()
    shift = OrthogonalShift(lam=1.0, moving="image").fit(images, captions, fixed_extra=prompts)
    assert shift.gap_perp_norm_ > 0.2
    img_s = shift.transform_image(images)
    prm_s = shift.transform_text(prompts)
    np.testing.assert_array_equal(zero_shot_predict(img_s, prm_s), zero_shot_predict(images, prompts))
    assert zero_shot_accuracy(img_s, prm_s, labels) == zero_shot_accuracy(images, prompts, labels)
    # and on this construction the shifted images flip less under the same noise (Chowers 2026's claim)
    assert flip_rate(img_s, prm_s, sigma=0.2, seed=0) < flip_rate(images, prompts, sigma=0.2, seed=0)
    # the λ-shift moves the prompts too and is not guaranteed to keep predictions
    ls = LambdaShift(lam=1.0).fit(images, captions)
    assert np.isfinite(zero_shot_accuracy(ls.transform_image(images), ls.transform_text(prompts), labels))


def test_zero_shot_margins_closed_form_and_naive():
    from gapkit.robustness import zero_shot_margins

    e1, e2 = np.eye(3)[0], np.eye(3)[1]
    classes = np.stack([e1, (e1 + e2) / np.sqrt(2), e2])
    # a query on e1 scores 1, 1/√2, 0: margin 1 − 1/√2; scale does not matter (cosines)
    np.testing.assert_allclose(zero_shot_margins(5 * e1[None], classes), [1 - 1 / np.sqrt(2)], atol=1e-12)
    # a tie between the two best classes has margin 0
    np.testing.assert_allclose(zero_shot_margins((e1 + e2)[None], np.stack([e1, e2, -e1])), [0.0], atol=1e-12)
    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(50, 8)), rng.normal(size=(6, 8))
    cos = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T
    naive = np.sort(cos, axis=1)[:, -1] - np.sort(cos, axis=1)[:, -2]
    np.testing.assert_allclose(zero_shot_margins(q, c), naive, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 rows"):
        zero_shot_margins(q, c[:1])
    with pytest.raises(ValueError, match="dimensions"):
        zero_shot_margins(q[:, :4], c)


def test_normalize_rows():
    from gapkit import normalize_rows

    x = np.array([[3.0, 4.0], [0.0, -2.0]], dtype=np.float32)
    u = normalize_rows(x)
    np.testing.assert_allclose(u, [[0.6, 0.8], [0.0, -1.0]], atol=1e-7)
    assert u.dtype == np.float32 and normalize_rows(x, dtype=np.float64).dtype == np.float64
    assert np.shares_memory(u, x) is False
    with pytest.raises(ValueError, match="all zeros"):
        normalize_rows(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        normalize_rows(np.array([[np.nan, 1.0]]))
