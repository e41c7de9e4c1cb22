"""Lost work and litter: caches that cannot be written, killed writers, corrupted mini-CLIP files (issue 14).

- When the embedding cache cannot be written (read-only folder, full disk, a path that is a
  file), ``cached_embed`` returns the embeddings it computed, with a warning saying why they
  were not cached, instead of losing them to a bare ``OSError``.
- Writers killed mid-write leave a temporary file; stale ones are removed on the next use of the
  cache, but only when their writer is gone (or the file is clearly old), never one that a live
  writer holds. The SIGKILL test kills 20 writers at random points.
- mini-CLIP's text-feature cache and weights go through the same checked writer and reader:
  a truncated, garbage, zero-length or inconsistent file is reported, recomputed and rewritten.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gapkit import _io
from gapkit.cache import CacheCorruptionWarning, EmbeddingCache, cache_key, cached_embed

ROOT = Path(__file__).resolve().parents[1]


class Encoder:
    name, precision = "fake", "fp32"

    def __init__(self):
        self.calls = 0

    def fingerprint(self):
        return "w0"

    def embed_texts(self, texts, **kw):
        self.calls += 1
        return np.arange(len(texts) * 4, dtype=np.float32).reshape(len(texts), 4) + 1

    embed_images = embed_texts


TEXTS = ["a cat", "a dog", "a bird"]


def _temps(root):
    return sorted(p for p in Path(root).rglob("*") if p.name.endswith(".tmp"))


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- the cache cannot be written


def _assert_returned_uncached(root, fault_match, **kw):
    enc = Encoder()
    with pytest.warns(UserWarning, match=fault_match) as rec:
        out = cached_embed(enc, "text", TEXTS, cache=root, progress=False, **kw)
    np.testing.assert_array_equal(out, Encoder().embed_texts(TEXTS))
    msgs = " ".join(str(w.message) for w in rec)
    assert "not cached" in msgs and ("GAPKIT_CACHE" in msgs or "cache=" in msgs), msgs
    assert not any(issubclass(w.category, CacheCorruptionWarning) for w in rec), msgs
    assert enc.calls == 1
    return msgs


def test_read_only_folder_returns_the_embeddings(tmp_path, monkeypatch):
    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "c"))

    monkeypatch.setattr(_io.tempfile, "mkstemp", denied)
    msgs = _assert_returned_uncached(tmp_path / "c", "Permission denied")
    assert str(tmp_path / "c") in msgs


def test_full_disk_returns_the_embeddings_and_leaves_no_temp(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_io.os, "fsync", full)
    _assert_returned_uncached(tmp_path / "c", "No space left")
    monkeypatch.undo()
    assert _temps(tmp_path) == []
    assert EmbeddingCache(tmp_path / "c").keys() == []


def test_cache_path_that_is_a_file_returns_the_embeddings(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("I am a file")
    _assert_returned_uncached(blocker, r"not cached")
    assert blocker.read_text() == "I am a file"


def test_put_itself_still_raises_for_direct_callers(tmp_path):
    blocker = tmp_path / "f"
    blocker.write_text("x")
    with pytest.raises(OSError):
        EmbeddingCache(blocker).put(cache_key(a=1), np.ones((2, 2), np.float32))


# --------------------------------------------------------------------------- stale temporaries


def test_temp_names_carry_the_writer_pid(tmp_path):
    seen = []
    target = tmp_path / "x.bin"
    with _io.atomic_open(target) as fh:
        seen = _temps(tmp_path)
        fh.write(b"data")
    assert len(seen) == 1 and f".{os.getpid()}." in seen[0].name and seen[0].name.startswith(".x.bin.")
    assert target.read_bytes() == b"data" and _temps(tmp_path) == []


def test_stale_temps_are_removed_only_when_their_writer_is_gone(tmp_path):
    store = EmbeddingCache(tmp_path / "c")
    key = cache_key(k="stale")
    folder = store.path(key).parent
    folder.mkdir(parents=True)
    dead = _io.temp_path(store.path(key), pid=_dead_pid())
    live = _io.temp_path(store.path(key), pid=os.getpid())
    dead.write_bytes(b"partial")
    live.write_bytes(b"partial")
    other_key = _io.temp_path(store.root / "ab" / ("ab" + "0" * 62 + ".npz"), pid=_dead_pid())
    other_key.parent.mkdir(parents=True)
    other_key.write_bytes(b"partial")
    foreign_old = folder / f".{key}.npz.otherhost.123.abcd.tmp"
    foreign_new = folder / f".{key}.npz.otherhost.124.abcd.tmp"
    foreign_old.write_bytes(b"old")
    foreign_new.write_bytes(b"new")
    old = time.time() - 3 * 24 * 3600
    os.utime(foreign_old, (old, old))
    unrelated = folder / "notes.txt"
    unrelated.write_text("keep me")

    assert EmbeddingCache(tmp_path / "c").get(key) is None     # the next use of the cache
    left = set(_temps(tmp_path))
    assert dead not in left and other_key not in left and foreign_old not in left
    assert live in left and foreign_new in left and unrelated.exists()


def test_a_live_writer_keeps_its_temp_while_the_cache_is_used(tmp_path):
    store = EmbeddingCache(tmp_path / "c")
    key = cache_key(k="live")
    target = store.path(key)
    code = (
        "import sys; from gapkit._io import atomic_open\n"
        f"with atomic_open({str(target)!r}) as f:\n"
        "    f.write(b'first half '); f.flush(); print('writing', flush=True); sys.stdin.readline()\n"
        "    f.write(b'second half')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=ROOT, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        (temp,) = _temps(tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheCorruptionWarning)
            EmbeddingCache(tmp_path / "c").get(key)
            EmbeddingCache(tmp_path / "c").put(cache_key(k="other"), np.ones((2, 2), np.float32))
        assert temp.exists(), "a live writer's temporary file was removed"
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert target.read_bytes() == b"first half second half" and _temps(tmp_path) == []


WRITER = """
import sys, numpy as np
from gapkit.cache import EmbeddingCache
store, key, seed = EmbeddingCache(sys.argv[1]), sys.argv[2], int(sys.argv[3])
arr = np.random.default_rng(seed).normal(size=(1024, 1024)).astype(np.float32)
print("ready", flush=True)
while True:
    store.put(key, arr, meta={"seed": seed})
"""


@pytest.mark.slow
def test_sigkill_mid_write_leaves_the_entry_valid_or_absent_and_no_litter(tmp_path):
    root = tmp_path / "c"
    key = cache_key(k="sigkill")
    rng = np.random.default_rng(14)
    litter_seen, valid_seen = 0, 0
    for i in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), key, str(i)], stdout=subprocess.PIPE,
                                cwd=ROOT, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.25)))
        proc.kill()
        proc.wait()
        litter_seen += len(_temps(root))
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheCorruptionWarning)   # a corrupt entry fails the test
            hit = EmbeddingCache(root).load(key)
        if hit is not None:
            arr, meta = hit
            expect = np.random.default_rng(int(meta["seed"])).normal(size=(1024, 1024)).astype(np.float32)
            np.testing.assert_array_equal(arr, expect)
            valid_seen += 1
        assert _temps(root) == [], f"kill {i}: temporary files left after the next use of the cache"
    assert litter_seen >= 1, "no kill landed mid-write: the test did not exercise what it should"
    print(f"20 kills: {litter_seen} left a temporary file, the entry was valid after {valid_seen} and absent "
          f"after {20 - valid_seen}; no temporary file after the next use")


# --------------------------------------------------------------------------- mini-CLIP's own files


@pytest.fixture
def mini_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GAPKIT_CACHE", str(tmp_path / "gk"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from gapkit import contrastive as C

    C._TEXT_MEMO.clear()
    yield C, tmp_path / "gk"
    C._TEXT_MEMO.clear()


def _truncate(p):
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _garbage(p):
    p.write_bytes(os.urandom(max(64, p.stat().st_size)))


def _empty(p):
    p.write_bytes(b"")


CORRUPTIONS = {"truncated": _truncate, "garbage": _garbage, "zero-length": _empty}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS) + ["other-texts", "nan-features"])
def test_text_feature_cache_corruption_is_detected_recomputed_and_rewritten(mini_cache, how):
    C, root = mini_cache
    ref = C.text_features(TEXTS)
    (path,) = (root / "text-features").glob("minilm-*.npz")
    if how in CORRUPTIONS:
        CORRUPTIONS[how](path)
    else:
        with np.load(path) as z:
            texts, feats = z["texts"], z["features"].copy()
        if how == "other-texts":
            texts = np.array(["x", "y", "z"])
        else:
            feats[1] = np.nan
        with open(path, "wb") as f:
            np.savez(f, texts=texts, features=feats)
    C._TEXT_MEMO.clear()
    with pytest.warns(UserWarning, match=path.name):
        again = C.text_features(TEXTS)
    np.testing.assert_allclose(again, ref, atol=1e-6)
    C._TEXT_MEMO.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(C.text_features(TEXTS), ref, atol=1e-6)   # the rewritten file reads back
    assert _temps(root) == []


def _flip_tensor_byte(p):
    with zipfile.ZipFile(p) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(p.read_bytes())
    with open(p, "rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size // 2] ^= 0x40
    p.write_bytes(bytes(data))


def _wrong_blob(p):
    import torch

    torch.save({"version": "something else", "state": {}}, p)


WEIGHT_CORRUPTIONS = {**CORRUPTIONS, "flipped-tensor-byte": _flip_tensor_byte, "wrong-content": _wrong_blob}


@pytest.mark.parametrize("how", sorted(WEIGHT_CORRUPTIONS))
def test_weights_file_corruption_is_reported_retrained_and_rewritten(mini_cache, how):
    C, root = mini_cache
    from gapkit.datasets import make_shapes

    data = make_shapes(64, seed=0, n_described=1)
    kw = dict(epochs=1, embed_dim=8, image_hidden=16, text_hidden=16, batch_size=32, device="cpu")
    first = C.train_mini_clip(data, **kw)
    (path,) = root.glob("mini-clip/*.pt")
    WEIGHT_CORRUPTIONS[how](path)
    with pytest.warns(UserWarning, match=path.name):
        second = C.train_mini_clip(data, **kw)
    assert second.history["from_cache"] is False
    assert second.fingerprint() == first.fingerprint()      # retrained deterministically
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = C.train_mini_clip(data, **kw)
    assert third.history["from_cache"] is True and third.fingerprint() == first.fingerprint()
    assert _temps(root) == []
