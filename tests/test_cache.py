"""gapkit.cache: keys, round trips, corruption detection, atomic writes, cached_embed."""

from __future__ import annotations

import io
import os
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

from gapkit import cache as gc
from gapkit.cache import (
    CacheCorruptionWarning,
    EmbeddingCache,
    cache_key,
    cached_embed,
    default_cache_dir,
    fingerprint_images,
    fingerprint_texts,
)


class CountingEncoder:
    """A deterministic stand-in with the Encoder interface; counts the calls that compute."""

    precision = "fp32"

    def __init__(self, name="fake", weights="w0", dim=4):
        self.name, self.weights, self.dim = name, weights, dim
        self.calls = 0

    def fingerprint(self):
        return self.weights

    def describe(self):
        return f"{self.name} (test)"

    def _embed(self, items):
        self.calls += 1
        rows = [np.frombuffer(str(i).encode() * 4, dtype=np.uint8)[: self.dim] for i in items]
        return np.asarray(rows, dtype=np.float32) + len(self.weights)

    def embed_texts(self, texts, *, batch_size=256, progress=True):
        return self._embed(texts)

    def embed_images(self, images, *, batch_size=64, progress=True):
        return self._embed([np.asarray(im).sum() for im in images])


@pytest.fixture
def store(tmp_path):
    return EmbeddingCache(tmp_path / "c")


def test_cache_key_canonical_and_sensitive():
    base = dict(model="clip-vit-b32", weights="abc", dataset="ham10000", split="train", template=None, content="f")
    k = cache_key(**base)
    assert len(k) == 64 and k == cache_key(**dict(reversed(list(base.items()))))
    for change in (dict(model="siglip-b16-384"), dict(weights="abd"), dict(split="test"), dict(template="a {}"),
                   dict(dataset="coco"), dict(content="g")):
        assert cache_key(**{**base, **change}) != k
    assert cache_key(a=1, b=None) != cache_key(a=1)
    assert cache_key(a=(1, 2)) == cache_key(a=[1, 2]) and cache_key(a=np.int64(3)) == cache_key(a=3)
    with pytest.raises(TypeError):
        cache_key(a=object())


def test_put_get_round_trip(store):
    arr = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    key = cache_key(x=1)
    assert store.get(key) is None and key not in store
    path = store.put(key, arr, meta={"model": "m", "n": 7})
    assert path == store.path(key) and path.is_file() and key in store
    got = store.get(key)
    assert got.dtype == np.float32 and got.shape == (7, 5)
    np.testing.assert_array_equal(got, arr)
    meta = store.meta(key)
    assert meta["model"] == "m" and meta["shape"] == [7, 5] and meta["key"] == key and len(meta["sha256"]) == 64
    assert store.keys() == [key]
    # overwrite is atomic too and returns the new array
    store.put(key, arr * 2)
    np.testing.assert_array_equal(store.get(key), arr * 2)
    assert store.delete(key) and store.get(key) is None
    # only temp-free final files are left in the folder
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]


def test_bad_key_rejected(store):
    with pytest.raises(ValueError, match="hex"):
        store.path("../etc/passwd")


def test_truncated_file_warns_and_misses(store):
    key = cache_key(t="trunc")
    store.put(key, np.ones((50, 8), np.float32))
    p = store.path(key)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.warns(CacheCorruptionWarning, match=str(p.name)):
        assert store.get(key) is None


def test_flipped_bytes_detected(store):
    key = cache_key(t="flip")
    arr = np.arange(400, dtype=np.float32).reshape(100, 4)
    store.put(key, arr)
    p = store.path(key)
    data = bytearray(p.read_bytes())
    # flip a byte inside the stored array (zip CRC or our sha256 catches it)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("embeddings.npy")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[offset] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.warns(CacheCorruptionWarning, match=str(p)):
        assert store.get(key) is None


def test_checksum_mismatch_detected(store):
    """A well-formed file whose array disagrees with its recorded sha256 (rewritten zip, valid CRCs)."""
    key = cache_key(t="sha")
    store.put(key, np.zeros((3, 2), np.float32))
    p = store.path(key)
    with np.load(p) as z:
        meta = z["meta"]
    with open(p, "wb") as f:
        np.savez(f, embeddings=np.ones((3, 2), np.float32), meta=meta)
    with pytest.warns(CacheCorruptionWarning, match="sha256"):
        assert store.get(key) is None
    with open(p, "wb") as f:
        np.savez(f, embeddings=np.zeros((2, 2), np.float32), meta=meta)
    with pytest.warns(CacheCorruptionWarning, match="shape"):
        assert store.get(key) is None
    p.write_bytes(b"not a zip file at all")
    with pytest.warns(CacheCorruptionWarning, match="cannot load"):
        assert store.get(key) is None


def test_failure_mid_write_leaves_no_file(store, monkeypatch):
    key = cache_key(t="atomic")

    def exploding_savez(f, **arrays):
        f.write(b"PK\x03\x04 partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(gc.np, "savez", exploding_savez)
    with pytest.raises(OSError, match="disk full"):
        store.put(key, np.ones((4, 4), np.float32))
    assert not store.path(key).exists()
    assert list(store.path(key).parent.iterdir()) == []  # the temp file was removed too
    monkeypatch.undo()
    # an old good entry survives a failed overwrite untouched
    store.put(key, np.ones((4, 4), np.float32))
    monkeypatch.setattr(gc.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        store.put(key, np.zeros((4, 4), np.float32))
    monkeypatch.undo()
    np.testing.assert_array_equal(store.get(key), np.ones((4, 4), np.float32))
    assert [p.name for p in store.path(key).parent.iterdir()] == [store.path(key).name]


def test_gapkit_cache_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GAPKIT_CACHE", str(tmp_path / "gk"))
    assert default_cache_dir() == tmp_path / "gk" / "embeddings"
    assert EmbeddingCache().root == tmp_path / "gk" / "embeddings"
    enc = CountingEncoder()
    cached_embed(enc, "text", ["a", "b"], progress=False)
    assert len(list((tmp_path / "gk" / "embeddings").rglob("*.npz"))) == 1
    monkeypatch.delenv("GAPKIT_CACHE")
    assert default_cache_dir().name == "embeddings" and "gapkit" in str(default_cache_dir())


def test_fingerprints():
    assert fingerprint_texts(["ab", "c"]) != fingerprint_texts(["a", "bc"])
    assert fingerprint_texts(["a", "b"]) != fingerprint_texts(["b", "a"])
    assert fingerprint_texts(["a"]) == fingerprint_texts(("a",))
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    f = fingerprint_images(arr)
    arr2 = arr.copy()
    arr2[1, 2, 3, 0] ^= 1
    assert fingerprint_images(arr2) != f and fingerprint_images(arr.copy()) == f
    pils = [Image.fromarray(a) for a in arr]
    assert fingerprint_images(pils) == fingerprint_images([Image.fromarray(a) for a in arr])
    assert fingerprint_images(pils[:2]) != fingerprint_images(pils)


def test_fingerprint_paths_hash_content(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(a)
    Image.new("RGB", (4, 4), (1, 2, 3)).save(b)
    assert fingerprint_images([str(a)]) == fingerprint_images([b])  # same content, other name
    Image.new("RGB", (4, 4), (1, 2, 4)).save(b)
    assert fingerprint_images([str(a)]) != fingerprint_images([b])
    assert fingerprint_images([a.read_bytes()]) == fingerprint_images([str(a)])


def test_cached_embed_hits_and_misses(store):
    enc = CountingEncoder()
    texts = ["cat", "dog", "lesion"]
    first = cached_embed(enc, "text", texts, dataset_id="toy", split="train", cache=store, progress=False)
    assert enc.calls == 1 and first.dtype == np.float32
    again = cached_embed(enc, "text", texts, dataset_id="toy", split="train", cache=store, progress=False)
    assert enc.calls == 1
    np.testing.assert_array_equal(first, again)
    # every ingredient of the key triggers a recompute
    cached_embed(enc, "text", texts, dataset_id="toy", split="test", cache=store, progress=False)
    cached_embed(enc, "text", texts, dataset_id="toy2", split="train", cache=store, progress=False)
    cached_embed(enc, "text", texts, dataset_id="toy", split="train", template="a photo of a {}.", cache=store,
                 progress=False)
    cached_embed(enc, "text", texts + ["x"], dataset_id="toy", split="train", cache=store, progress=False)
    cached_embed(CountingEncoder(weights="w1"), "text", texts, dataset_id="toy", split="train", cache=store,
                 progress=False)
    cached_embed(CountingEncoder(name="other"), "text", texts, dataset_id="toy", split="train", cache=store,
                 progress=False)
    assert enc.calls == 5 and len(store.keys()) == 7
    # the template is applied to the texts
    templ = CountingEncoder()
    out = cached_embed(templ, "text", ["cat"], template="a {}", cache=False, progress=False)
    np.testing.assert_array_equal(out, templ._embed(["a cat"]))
    with pytest.raises(ValueError, match="placeholder"):
        cached_embed(enc, "text", texts, template="no placeholder", cache=store)
    with pytest.raises(ValueError, match="kind"):
        cached_embed(enc, "audio", texts, cache=store)


def test_cached_embed_recomputes_after_corruption(store):
    enc = CountingEncoder()
    imgs = np.random.default_rng(1).integers(0, 256, (4, 6, 6, 3), dtype=np.uint8)
    want = cached_embed(enc, "image", imgs, dataset_id="toy", cache=store, progress=False)
    (key,) = store.keys()
    p = store.path(key)
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.warns(CacheCorruptionWarning):
        got = cached_embed(enc, "image", imgs, dataset_id="toy", cache=store, progress=False)
    assert enc.calls == 2
    np.testing.assert_array_equal(got, want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached_embed(enc, "image", imgs, dataset_id="toy", cache=store, progress=False)  # repaired: a clean hit
    assert enc.calls == 2


def test_cached_embed_with_real_encoder(tmp_path):
    """End to end with a gapkit encoder: the fingerprint and precision go into the key."""
    torch = pytest.importorskip("torch")  # noqa: F841
    import json

    import open_clip

    from gapkit.encoders import load_encoder

    cfg = tmp_path / "gapkit-cache-tiny.json"
    cfg.write_text(json.dumps({
        "embed_dim": 8,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 16, "head_width": 8, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    }))
    open_clip.add_model_config(cfg)
    e = load_encoder("random:gapkit-cache-tiny", device="cpu")
    store = EmbeddingCache(tmp_path / "c")
    texts = ["a photo of a cat", "a dog"]
    first = cached_embed(e, "text", texts, cache=store, progress=False)
    assert first.shape == (2, 8)
    np.testing.assert_array_equal(cached_embed(e, "text", texts, cache=store, progress=False), first)
    other = load_encoder("random:gapkit-cache-tiny", device="cpu", seed=1)
    cached_embed(other, "text", texts, cache=store, progress=False)
    assert len(store.keys()) == 2
    meta = store.meta(store.keys()[0])
    assert meta["model"] == "random:gapkit-cache-tiny" and "encoder" in meta
    assert os.path.commonpath([store.path(store.keys()[0]), tmp_path]) == str(tmp_path)


def test_dataset_fingerprints_are_cached_embeds_and_remembered(monkeypatch):
    import dataclasses

    from gapkit.datasets import PairedDataset

    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    ds = PairedDataset(images=src, texts=list("abcdef"), labels=np.arange(6) % 2, label_names=["x", "y"], name="toy")
    assert ds.content_fingerprints() == (fingerprint_images(src), fingerprint_texts(list("abcdef")))
    # the pixels cannot change under the remembered fingerprint
    assert not ds.images.flags.writeable and src.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        ds.images[0, 0, 0, 0] = 1
    calls = []
    monkeypatch.setattr(gc, "fingerprint_images", lambda x, **kw: calls.append(1) or "fp")
    ds.content_fingerprints()
    assert calls == []  # remembered
    ds.texts[0] = "changed"  # texts are re-hashed on every call
    assert ds.content_fingerprints()[1] == fingerprint_texts(["changed", *"bcdef"])
    other = dataclasses.replace(ds, images=src[::-1])  # a new dataset hashes its own pixels
    assert other.content_fingerprints()[0] == "fp" and calls == [1]


def test_cached_embed_dataset(store):
    import dataclasses

    from gapkit.cache import cached_embed_dataset
    from gapkit.datasets import PairedDataset

    rng = np.random.default_rng(1)
    ds = PairedDataset(images=rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8), texts=list("vwxyz"),
                       labels=np.arange(5) % 2, label_names=["x", "y"], name="toy")
    enc = CountingEncoder()
    img, txt = cached_embed_dataset(enc, ds, split="train", cache=store, progress=False)
    assert enc.calls == 2 and img.shape == txt.shape == (5, 4)
    # the same keys as cached_embed with computed fingerprints: a hit either way, nothing recomputed
    np.testing.assert_array_equal(
        cached_embed(enc, "image", ds.images, dataset_id="toy", split="train", cache=store, progress=False), img)
    img2, txt2 = cached_embed_dataset(enc, ds, split="train", cache=store, progress=False)
    assert enc.calls == 2
    np.testing.assert_array_equal(img2, img)
    np.testing.assert_array_equal(txt2, txt)
    # new texts: only the texts are embedded again
    cached_embed_dataset(enc, dataclasses.replace(ds, texts=list("VWXYZ")), split="train", cache=store,
                         progress=False)
    assert enc.calls == 3
    with pytest.raises(TypeError, match="PairedDataset"):
        cached_embed_dataset(enc, ds.images, cache=store)
