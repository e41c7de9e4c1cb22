"""Hostile hyper-parameters: every float and integer parameter is validated in one place (issue 14).

Each case calls a public gapkit function or estimator with one bad parameter value: a non-finite
float (which used to come back as NaN arrays), a non-integer count or seed (which used to be
truncated without a word), a bool where a number is meant, or a value out of range. Every one must
raise a ``ValueError`` whose message names the parameter, shows the value and says what to pass
instead. Valid values of every numeric type (numpy scalars included) must still be accepted.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import gapkit
from gapkit import cone, geometry, robustness, shift, train
from gapkit import datasets as gds

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    d = 8
    img = rng.normal(size=(40, d)) + 3.0 * np.eye(d)[0]
    txt = img + rng.normal(scale=0.5, size=img.shape) - 3.0 * np.eye(d)[0]
    y = np.arange(40) % 2
    return img, txt, y


def _prompts(d=8, k=3):
    return np.random.default_rng(1).normal(size=(k, d))


def _captions(n=4):
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    return [{"image": img, "answer": [f"a cat {i}", f"a man {i}", f"a dog {i}"]} for i in range(n)]


# (case id, parameter name, bad value, call) -- call(pairs) must raise
CASES = [
    # the λ-shift and friends
    ("LambdaShift lam=nan", "lam", NAN, lambda p: shift.LambdaShift(NAN).fit(p[0], p[1]).transform(p[0], p[1])),
    ("LambdaShift lam=inf", "lam", INF, lambda p: shift.LambdaShift(INF).fit(p[0], p[1]).transform(p[0], p[1])),
    ("LambdaShift lam=-inf", "lam", -INF, lambda p: shift.LambdaShift(-INF).fit(p[0], p[1]).transform_text(p[1])),
    ("LambdaShift lam='1'", "lam", "1", lambda p: shift.LambdaShift("1").fit(p[0], p[1]).transform(p[0], p[1])),
    ("LambdaShift lam=None", "lam", None, lambda p: shift.LambdaShift(None).fit(p[0], p[1]).transform(p[0], p[1])),
    ("LambdaShift set_params(lam=nan) after fit", "lam", NAN,
     lambda p: shift.LambdaShift(1.0).fit(p[0], p[1]).set_params(lam=NAN).transform_image(p[0])),
    ("LambdaShift renormalize='no'", "renormalize", "no",
     lambda p: shift.LambdaShift(1.0, renormalize="no").fit(p[0], p[1]).transform(p[0], p[1])),
    ("MeanCentering renormalize=None", "renormalize", None,
     lambda p: shift.MeanCentering(renormalize=None).fit(p[0], p[1]).transform(p[0], p[1])),
    ("OrthogonalShift lam=nan", "lam", NAN, lambda p: shift.OrthogonalShift(NAN).fit(p[0], p[1]).transform(p[0], p[1])),
    ("OrthogonalShift lam=inf", "lam", INF, lambda p: shift.OrthogonalShift(INF).fit(p[0], p[1]).transform(p[0], p[1])),
    ("OrthogonalShift tol=nan", "tol", NAN, lambda p: shift.OrthogonalShift(tol=NAN).fit(p[0], p[1])),
    ("OrthogonalShift tol=-1", "tol", -1.0, lambda p: shift.OrthogonalShift(tol=-1.0).fit(p[0], p[1])),
    ("OrthogonalShift tol=1.5 (drops the whole span)", "tol", 1.5,
     lambda p: shift.OrthogonalShift(tol=1.5).fit(p[0], p[1])),
    ("OrthogonalShift energy=nan", "energy", NAN, lambda p: shift.OrthogonalShift(energy=NAN).fit(p[0], p[1])),
    ("OrthogonalShift energy=0", "energy", 0.0, lambda p: shift.OrthogonalShift(energy=0.0).fit(p[0], p[1])),
    ("OrthogonalShift moving='both'", "moving", "both", lambda p: shift.OrthogonalShift(moving="both").fit(p[0], p[1])),
    # robustness
    ("flip_rate sigma=nan", "sigma", NAN, lambda p: robustness.flip_rate(p[0], _prompts(), sigma=NAN)),
    ("flip_rate sigma=inf", "sigma", INF, lambda p: robustness.flip_rate(p[0], _prompts(), sigma=INF)),
    ("flip_rate sigma=-0.1", "sigma", -0.1, lambda p: robustness.flip_rate(p[0], _prompts(), sigma=-0.1)),
    ("flip_rate n_trials=2.5", "n_trials", 2.5, lambda p: robustness.flip_rate(p[0], _prompts(), n_trials=2.5)),
    ("flip_rate n_trials=True", "n_trials", True, lambda p: robustness.flip_rate(p[0], _prompts(), n_trials=True)),
    ("flip_rate n_trials=0", "n_trials", 0, lambda p: robustness.flip_rate(p[0], _prompts(), n_trials=0)),
    ("flip_rate seed=42.7", "seed", 42.7, lambda p: robustness.flip_rate(p[0], _prompts(), seed=42.7)),
    ("flip_rate seed=-1", "seed", -1, lambda p: robustness.flip_rate(p[0], _prompts(), seed=-1)),
    ("flip_rate bits=8.5", "bits", 8.5, lambda p: robustness.flip_rate(p[0], _prompts(), "quantize", bits=8.5)),
    ("flip_rate bits=1", "bits", 1, lambda p: robustness.flip_rate(p[0], _prompts(), "quantize", bits=1)),
    ("flip_rate_curve sigmas=[0.1, nan]", "sigmas", NAN,
     lambda p: robustness.flip_rate_curve(p[0], _prompts(), [0.1, NAN])),
    ("perturb sigma=nan", "sigma", NAN,
     lambda p: robustness.perturb(gapkit.normalize_rows(p[0]), sigma=NAN, rng=np.random.default_rng(0))),
    # geometry
    ("uniformity t=nan", "t", NAN, lambda p: geometry.uniformity(p[0], t=NAN)),
    ("uniformity t=inf", "t", INF, lambda p: geometry.uniformity(p[0], t=INF)),
    ("uniformity t=0", "t", 0.0, lambda p: geometry.uniformity(p[0], t=0.0)),
    ("uniformity max_samples=20.5", "max_samples", 20.5, lambda p: geometry.uniformity(p[0], max_samples=20.5)),
    ("uniformity seed=1.5", "seed", 1.5, lambda p: geometry.uniformity(p[0], max_samples=10, seed=1.5)),
    ("linear_separability test_size=nan", "test_size", NAN,
     lambda p: geometry.linear_separability(p[0], p[1], test_size=NAN)),
    ("linear_separability C=nan", "C", NAN, lambda p: geometry.linear_separability(p[0], p[1], C=NAN)),
    ("linear_separability C=0", "C", 0.0, lambda p: geometry.linear_separability(p[0], p[1], C=0.0)),
    ("linear_separability seed=0.5", "seed", 0.5, lambda p: geometry.linear_separability(p[0], p[1], seed=0.5)),
    ("linear_separability max_pairs=30.5", "max_pairs", 30.5,
     lambda p: geometry.linear_separability(p[0], p[1], max_pairs=30.5)),
    ("gap_report n_boot=2.5", "n_boot", 2.5, lambda p: geometry.gap_report(p[0], p[1], n_boot=2.5)),
    ("gap_report ci=nan", "ci", NAN, lambda p: geometry.gap_report(p[0], p[1], n_boot=2, ci=NAN)),
    ("gap_report seed=1.5", "seed", 1.5, lambda p: geometry.gap_report(p[0], p[1], n_boot=2, seed=1.5)),
    ("gap_report uniformity_t=nan", "uniformity_t", NAN,
     lambda p: geometry.gap_report(p[0], p[1], n_boot=0, uniformity_t=NAN, separability=False)),
    # supervised heads
    ("train_head seed=42.7", "seed", 42.7, lambda p: train.train_head(p[0], p[2], p[0], p[2], seed=42.7)),
    ("train_head lr=nan", "lr", NAN, lambda p: train.train_head(p[0], p[2], p[0], p[2], lr=NAN)),
    ("train_head weight_decay=nan", "weight_decay", NAN,
     lambda p: train.train_head(p[0], p[2], p[0], p[2], weight_decay=NAN)),
    ("train_head weight_decay=-1", "weight_decay", -1.0,
     lambda p: train.train_head(p[0], p[2], p[0], p[2], weight_decay=-1.0)),
    ("train_head hidden=0", "hidden", 0, lambda p: train.train_head(p[0], p[2], p[0], p[2], head="mlp", hidden=0)),
    ("train_head max_epochs=2.5", "max_epochs", 2.5,
     lambda p: train.train_head(p[0], p[2], p[0], p[2], max_epochs=2.5)),
    ("train_head batch_size=True", "batch_size", True,
     lambda p: train.train_head(p[0], p[2], p[0], p[2], batch_size=True)),
    ("sweep_lambda seeds=(42.7,)", "seeds", 42.7,
     lambda p: train.sweep_lambda(p[0], p[1], p[2], lams=[0.0], seeds=(42.7,), max_epochs=1, progress=False)),
    ("sweep_lambda lr=nan", "lr", NAN,
     lambda p: train.sweep_lambda(p[0], p[1], p[2], lams=[0.0], seeds=(0,), lr=NAN, max_epochs=1, progress=False)),
    ("sweep_lambda patience=0.5", "patience", 0.5,
     lambda p: train.sweep_lambda(p[0], p[1], p[2], lams=[0.0], seeds=(0,), patience=0.5, progress=False)),
    ("sweep_lambda test_size=nan", "test_size", NAN,
     lambda p: train.sweep_lambda(p[0], p[1], p[2], lams=[0.0], seeds=(0,), test_size=NAN, progress=False)),
    ("sweep_lambda val_size=nan", "val_size", NAN,
     lambda p: train.sweep_lambda(p[0], p[1], p[2], lams=[0.0], seeds=(0,), val_size=NAN, progress=False)),
    ("sweep_lambda split_seed=1.5", "split_seed", 1.5,
     lambda p: train.sweep_lambda(p[0], p[1], p[2], lams=[0.0], seeds=(0,), split_seed=1.5, progress=False)),
    ("split_indices seed=1.5", "seed", 1.5, lambda p: train.split_indices(p[2], 0.2, 1.5)),
    # data
    ("load_captions caption_index=1.5", "caption_index", 1.5,
     lambda p: gds.load_captions("coco", records=_captions(), caption_index=1.5, image_size=None)),
    ("load_captions caption_index=True", "caption_index", True,
     lambda p: gds.load_captions("coco", records=_captions(), caption_index=True, image_size=None)),
    ("load_captions max_samples=2.5", "max_samples", 2.5,
     lambda p: gds.load_captions("coco", records=_captions(), max_samples=2.5, image_size=None)),
    ("load_captions image_size=0", "image_size", 0,
     lambda p: gds.load_captions("coco", records=_captions(), image_size=0)),
    ("make_shapes n=10.5", "n", 10.5, lambda p: gds.make_shapes(n=10.5)),
    ("make_shapes seed=1.5", "seed", 1.5, lambda p: gds.make_shapes(n=10, seed=1.5)),
    ("make_shapes noise=nan", "noise", NAN, lambda p: gds.make_shapes(n=10, noise=NAN)),
    ("make_multimodal_task seed=0.5", "seed", 0.5, lambda p: gds.make_multimodal_task(n=20, seed=0.5)),
    ("make_multimodal_task noise=nan", "noise", NAN, lambda p: gds.make_multimodal_task(n=20, noise=NAN)),
    ("load_digits_captions seed=1.5", "seed", 1.5, lambda p: gds.load_digits_captions(seed=1.5)),
    ("PairedDataset.split seed=1.5", "seed", 1.5, lambda p: gds.make_shapes(n=40).split(seed=1.5)),
    ("PairedDataset.split test_size=nan", "test_size", NAN, lambda p: gds.make_shapes(n=40).split(test_size=NAN)),
    # random networks and the mini CLIP
    ("random_mlp depth=2.5", "depth", 2.5, lambda p: cone.random_mlp(2.5, 8)),
    ("random_mlp seed=1.5", "seed", 1.5, lambda p: cone.random_mlp(2, 8, seed=1.5)),
    ("gaussian_inputs n=2.5", "n", 2.5, lambda p: cone.gaussian_inputs(2.5, 8)),
    ("pairwise_cosines max_samples=5.5", "max_samples", 5.5, lambda p: cone.pairwise_cosines(p[0], max_samples=5.5)),
    ("init_mini_clip seed=1.5", "seed", 1.5, lambda p: gapkit.contrastive.init_mini_clip(seed=1.5, device="cpu")),
    ("init_mini_clip embed_dim=16.5", "embed_dim", 16.5,
     lambda p: gapkit.contrastive.init_mini_clip(embed_dim=16.5, device="cpu")),
    ("init_mini_clip temperature=inf", "temperature", INF,
     lambda p: gapkit.contrastive.init_mini_clip(temperature=INF, device="cpu")),
    ("load_encoder('random:...') seed=1.5", "seed", 1.5,
     lambda p: gapkit.load_encoder("random:ViT-B-32", seed=1.5, device="cpu")),
    ("MiniCLIP.embed_texts batch_size=2.5", "batch_size", 2.5,
     lambda p: gapkit.contrastive.init_mini_clip(device="cpu").embed_texts(["a cat"], batch_size=2.5)),
    ("MiniCLIP.embed_images batch_size=0", "batch_size", 0,
     lambda p: gapkit.contrastive.init_mini_clip(device="cpu").embed_images(np.zeros((2, 32, 32, 3), np.uint8),
                                                                           batch_size=0)),
    # adapters
    ("LinearAdapter alpha=nan", "alpha", NAN, lambda p: gapkit.adapters.LinearAdapter(alpha=NAN)),
    ("LinearAdapter epochs=2.5", "epochs", 2.5, lambda p: gapkit.adapters.LinearAdapter(epochs=2.5)),
    ("LanguageModelAdapter temperature=nan", "temperature", NAN,
     lambda p: gapkit.adapters.LanguageModelAdapter(temperature=NAN)),
]


def _value_shown(value, msg: str) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return "nan" in msg
    return repr(value) in msg or str(value) in msg


@pytest.mark.parametrize("name,value,call", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_parameter_is_rejected_with_a_message(pairs, name, value, call):
    with pytest.raises((ValueError, TypeError)) as info:
        call(pairs)
    msg = str(info.value)
    assert re.search(rf"\b{re.escape(name)}\b", msg), f"message does not name {name!r}: {msg}"
    assert _value_shown(value, msg), f"message does not show the value {value!r}: {msg}"
    assert re.search(r"\b(pass|use)\b", msg, re.IGNORECASE), f"message gives no fix: {msg}"


def test_messages_suggest_the_integer_for_integral_floats(pairs):
    with pytest.raises(ValueError, match=r"seed=42\b"):
        robustness.flip_rate(pairs[0], _prompts(), seed=42.0)


def test_numpy_scalars_and_edge_values_are_accepted(pairs):
    img, txt, y = pairs
    a = shift.LambdaShift(np.float32(0.5)).fit(img, txt).transform_image(img)
    b = shift.LambdaShift(0.5).fit(img, txt).transform_image(img)
    np.testing.assert_allclose(a, b)
    assert 0.0 <= robustness.flip_rate(img, _prompts(), sigma=np.float64(0.1), n_trials=np.int64(2),
                                       seed=np.int32(3)) <= 1.0
    assert robustness.flip_rate(img, _prompts(), sigma=0, n_trials=1) == 0.0
    assert shift.OrthogonalShift(energy=1.0, tol=0.0).fit(img, txt).rank_ >= 1
    assert shift.LambdaShift(1.0, renormalize=np.bool_(False)).fit(img, txt).transform_text(txt).shape == txt.shape
    assert np.isfinite(geometry.uniformity(img, t=np.float32(2.0), max_samples=np.int64(20), seed=np.uint8(1)))
    tr, te = train.split_indices(y, 0.25, np.int64(7))
    assert len(tr) + len(te) == len(y)


def test_seeds_are_still_honoured_exactly(pairs):
    img = pairs[0]
    r1 = robustness.flip_rate(img, _prompts(), sigma=0.5, n_trials=3, seed=5)
    r2 = robustness.flip_rate(img, _prompts(), sigma=0.5, n_trials=3, seed=np.int64(5))
    assert r1 == r2


def test_check_params_is_the_one_declarative_place():
    from gapkit._validation import Integral, Interval, Real, check_params

    out = check_params({"n": [Interval(Integral, 1, None, closed="left")],
                        "x": [Interval(Real, 0, 1, closed="right"), None]}, n=np.int64(3), x=None, owner="demo")
    assert out == {"n": 3, "x": None} and type(out["n"]) is int
    with pytest.raises(ValueError, match=r"demo: n=0 .*integer >= 1"):
        check_params({"n": [Interval(Integral, 1, None, closed="left")]}, n=0, owner="demo")
    with pytest.raises(ValueError, match=r"x=0\.0 .*\(0, 1\]"):
        check_params({"x": [Interval(Real, 0, 1, closed="right")]}, x=0.0)
