"""Hostile scales: one overflow/underflow-safe normaliser serves every part of gapkit (issue 14).

Cosine geometry does not depend on the length of a row, so scaling every embedding by 1e30 (or
1e-30, or 1e±200 in float64) must not change any result. A normaliser that squares first
overflows (float32 ×1e30 → inf norms → zero rows) or underflows (×1e-30 → zero norms → inf/NaN).
Each case compares a function on scaled inputs with the same function on the unscaled ones.
"""

from __future__ import annotations

import numpy as np
import pytest

import gapkit
from gapkit import adapters, cone, geometry, robustness, shift, train
from gapkit._validation import l2_normalize

SCALES = [
    (np.float32, 1e30), (np.float32, 1e-30), (np.float32, 1e19), (np.float32, 1e-20),
    (np.float64, 1e200), (np.float64, 1e-200), (np.float64, 1e300), (np.float64, 1e-300),
]
SCALE_IDS = [f"{np.dtype(dt).name}x{s:g}" for dt, s in SCALES]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n, d = 60, 16
    img = rng.normal(size=(n, d)) + 2.5 * np.eye(d)[0]
    txt = img + rng.normal(scale=0.6, size=(n, d)) - 2.5 * np.eye(d)[0] + 2.5 * np.eye(d)[1]
    prompts = rng.normal(size=(4, d))
    y = (img[:, 2] > 0).astype(int)
    return img, txt, prompts, y


def _scaled(x, dtype, s):
    # scale in float64 first so the value itself is representable, then cast (float32 1e30 is fine)
    return (np.asarray(x, dtype=np.float64) * s).astype(dtype)


@pytest.mark.parametrize("dtype,s", SCALES, ids=SCALE_IDS)
def test_l2_normalize_gives_unit_rows_at_any_scale(data, dtype, s):
    x = data[0].astype(dtype)
    out = l2_normalize(_scaled(x, dtype, s))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out.astype(np.float64), axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out, l2_normalize(x), rtol=1e-5, atol=1e-6)
    out64 = l2_normalize(_scaled(x, dtype, s), dtype=np.float64)
    np.testing.assert_allclose(out64, l2_normalize(x, dtype=np.float64), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype,s", SCALES, ids=SCALE_IDS)
def test_normalize_rows_public(data, dtype, s):
    x = data[1].astype(dtype)
    np.testing.assert_allclose(gapkit.normalize_rows(_scaled(x, dtype, s)), gapkit.normalize_rows(x),
                               rtol=1e-5, atol=1e-6)


ESTIMATORS = {
    "LambdaShift": lambda: shift.LambdaShift(0.7),
    "MeanCentering": lambda: shift.MeanCentering(),
    "OrthogonalShift": lambda: shift.OrthogonalShift(1.0, energy=0.9),
}


@pytest.mark.parametrize("est", sorted(ESTIMATORS))
@pytest.mark.parametrize("dtype,s", SCALES, ids=SCALE_IDS)
def test_shifts_are_scale_free(data, est, dtype, s):
    img, txt = data[0].astype(dtype), data[1].astype(dtype)
    ref_i, ref_t = ESTIMATORS[est]().fit(img, txt).transform(img, txt)
    out_i, out_t = ESTIMATORS[est]().fit(_scaled(img, dtype, s), _scaled(txt, dtype, s)).transform(
        _scaled(img, dtype, s), _scaled(txt, dtype, s))
    tol = dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_i, ref_i, **tol)
    np.testing.assert_allclose(out_t, ref_t, **tol)


@pytest.mark.parametrize("dtype,s", SCALES, ids=SCALE_IDS)
def test_zero_shot_and_flip_rate_are_scale_free(data, dtype, s):
    img, _, prompts, _ = data
    q, c = img.astype(dtype), prompts.astype(dtype)
    qs, cs = _scaled(q, dtype, s), _scaled(c, dtype, s)
    np.testing.assert_array_equal(robustness.zero_shot_predict(qs, cs), robustness.zero_shot_predict(q, c))
    labels = robustness.zero_shot_predict(q, c)
    assert robustness.zero_shot_accuracy(qs, cs, labels) == 1.0
    np.testing.assert_allclose(robustness.zero_shot_margins(qs, cs), robustness.zero_shot_margins(q, c),
                               rtol=1e-4, atol=1e-5)
    ref = robustness.flip_rate(q, c, sigma=0.3, n_trials=3, seed=1)
    assert robustness.flip_rate(qs, cs, sigma=0.3, n_trials=3, seed=1) == pytest.approx(ref, abs=0.02)
    assert robustness.flip_rate(qs, cs, "quantize", bits=4) == robustness.flip_rate(q, c, "quantize", bits=4)


@pytest.mark.parametrize("dtype,s", SCALES, ids=SCALE_IDS)
def test_geometry_and_separability_are_scale_free(data, dtype, s):
    img, txt = data[0].astype(dtype), data[1].astype(dtype)
    si, st = _scaled(img, dtype, s), _scaled(txt, dtype, s)
    assert geometry.centroid_gap(si, st) == pytest.approx(geometry.centroid_gap(img, txt), rel=1e-5)
    assert geometry.linear_separability(si, st) == geometry.linear_separability(img, txt)
    assert geometry.linear_separability(si, st) == 1.0


@pytest.mark.parametrize("dtype,s", [(np.float32, 1e30), (np.float64, 1e-200), (np.float64, 1e200)],
                         ids=["float32x1e30", "float64x1e-200", "float64x1e200"])
def test_sweep_lambda_is_scale_free(data, dtype, s):
    img, txt, _, y = data
    kw = dict(lams=[0.0, 1.0], seeds=(0,), max_epochs=3, progress=False, dtype="float64", device="cpu")
    ref = train.sweep_lambda(img.astype(dtype), txt.astype(dtype), y, **kw).table["value"].to_numpy()
    out = train.sweep_lambda(_scaled(img, dtype, s), _scaled(txt, dtype, s), y, **kw).table["value"].to_numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype,s", SCALES, ids=SCALE_IDS)
def test_cone_and_adapter_helpers_are_scale_free(data, dtype, s):
    img, txt = data[0].astype(dtype), data[1].astype(dtype)
    si, st = _scaled(img, dtype, s), _scaled(txt, dtype, s)
    np.testing.assert_allclose(cone.cone_axis(si), cone.cone_axis(img), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cone.pairwise_cosines(si, st, paired=True), cone.pairwise_cosines(img, txt, paired=True),
                               rtol=1e-5, atol=1e-6)
    assert adapters.mean_cross_cosine(si, st) == pytest.approx(adapters.mean_cross_cosine(img, txt), rel=1e-5)
    geo_s, geo = adapters.token_geometry(si, st), adapters.token_geometry(img, txt)
    for k in ("centroid_gap", "centroid_cosine"):
        assert geo_s[k] == pytest.approx(geo[k], rel=1e-5), k
    assert np.isfinite(geo_s["norm_vision"]) and geo_s["norm_vision"] == pytest.approx(geo["norm_vision"] * s, rel=1e-5)


@pytest.mark.parametrize("dtype,s", SCALES, ids=SCALE_IDS)
def test_retrieval_and_zero_shot_logits_are_scale_free(data, dtype, s):
    from gapkit.contrastive import retrieval_accuracy

    img, txt = data[0].astype(dtype), data[1].astype(dtype)
    si, st = _scaled(img, dtype, s), _scaled(txt, dtype, s)
    assert retrieval_accuracy(si, st) == retrieval_accuracy(img, txt)


@pytest.mark.parametrize("s", [1e30, 1e-30, 1e19, 1e-20], ids=lambda s: f"x{s:g}")
def test_torch_normaliser_and_clip_loss_are_scale_free(data, s):
    torch = pytest.importorskip("torch")
    from gapkit._validation import l2_normalize_torch
    from gapkit.contrastive import clip_loss

    v = torch.tensor(data[0], dtype=torch.float32)
    t = torch.tensor(data[1], dtype=torch.float32)
    vs, ts = (torch.tensor(x.numpy().astype(np.float64) * s, dtype=torch.float32) for x in (v, t))
    out = l2_normalize_torch(vs)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, l2_normalize_torch(v), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(len(v)), rtol=1e-5, atol=1e-6)
    ref = clip_loss(v, t, torch.tensor(10.0))
    torch.testing.assert_close(clip_loss(vs, ts, torch.tensor(10.0)), ref, rtol=1e-5, atol=1e-5)


def test_torch_normaliser_keeps_gradients_exact(data):
    torch = pytest.importorskip("torch")
    from gapkit._validation import l2_normalize_torch

    x = torch.tensor(data[0][:5], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(data[1][:5], dtype=torch.float64)
    (l2_normalize_torch(x) * w).sum().backward()
    g_ours = x.grad.clone()
    x.grad = None
    (torch.nn.functional.normalize(x, dim=1) * w).sum().backward()
    torch.testing.assert_close(g_ours, x.grad, rtol=1e-12, atol=1e-12)


def test_zero_shot_logits_of_an_encoder_are_scale_free(data):
    from gapkit.encoders import Encoder

    img, _, prompts, _ = data

    class Fixed(Encoder):
        name, dim, logit_scale, logit_bias = "fixed", img.shape[1], 100.0, None

    enc = Fixed()
    ref = enc.zero_shot_logits(img.astype(np.float32), prompts.astype(np.float32))
    out = enc.zero_shot_logits(_scaled(img, np.float32, 1e30), _scaled(prompts, np.float32, 1e-30))
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-3)
