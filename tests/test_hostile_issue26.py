"""The hostile inputs issue 26 lists as still failing: each was a bare library error or a silent wrong result."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from gapkit._io import CacheUnavailableWarning, temp_path
from gapkit.cache import CacheCorruptionWarning, EmbeddingCache, cache_key


def test_train_head_on_features_beyond_float32_says_so_instead_of_nan_auc():
    pytest.importorskip("torch")
    from gapkit.train import train_head

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match=r"X_train holds values up to .*e\+200.*dtype='float64'"):
        train_head(X[:90] * 1e200, y[:90], X[90:] * 1e200, y[90:], max_epochs=3)
    out = train_head(X[:90] * 1e200, y[:90], X[90:] * 1e200, y[90:], max_epochs=3, dtype="float64")
    assert np.isfinite(out["auc"])  # the precision that holds them trains and scores


def test_cache_entry_replaced_by_a_directory_is_warned_and_repaired(tmp_path):
    cache, key = EmbeddingCache(tmp_path), "ab" * 32
    cache.put(key, np.arange(4.0))
    cache.path(key).unlink()
    (cache.path(key) / "junk").mkdir(parents=True)
    with pytest.warns(CacheCorruptionWarning, match="a directory stands where"):
        assert cache.get(key) is None
    cache.put(key, np.arange(4.0))  # the recompute's write repairs the entry
    assert cache.path(key).is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(cache.get(key), np.arange(4.0))
    assert cache.keys() == [key]


def test_cache_root_that_is_a_file_names_it(tmp_path):
    root = tmp_path / "not-a-folder"
    root.write_text("x")
    with pytest.raises(NotADirectoryError, match=r"embedding cache folder .*not-a-folder is a file.*GAPKIT_CACHE"):
        EmbeddingCache(root).put("cd" * 32, np.zeros(3))


def test_minicip_cache_dir_under_a_file_names_it(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from gapkit import contrastive

    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("GAPKIT_CACHE", str(tmp_path / "f"))
    with pytest.raises(NotADirectoryError, match=r"cache folder .* cannot be made: .*/f is a file; point GAPKIT_CACHE"):
        contrastive.cache_dir()


def test_minicip_trains_and_warns_with_a_file_cache_root(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import gapkit
    from gapkit._io import CorruptFileWarning

    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("GAPKIT_CACHE", str(tmp_path / "f"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = gapkit.load_encoder("mini-clip", n=64, epochs=1, device="cpu")
    assert enc.dim > 0
    kinds = {w.category for w in caught}
    assert CacheUnavailableWarning in kinds  # "not cached: could not write ..."
    assert not any(issubclass(k, CorruptFileWarning) for k in kinds)  # a missing folder is a miss, not corruption


def test_load_encoder_hf_without_a_repo_id():
    pytest.importorskip("torch")
    import gapkit

    with pytest.raises(ValueError, match=r"'hf:' needs a Hugging Face repository id"):
        gapkit.load_encoder("hf:")


def test_open_clip_checkpoint_with_the_wrong_keys(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    import gapkit
    from gapkit.encoders import CheckpointError

    torch.save({"foo": torch.zeros(3)}, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match=r"wrong\.pt is a readable checkpoint, but its weights are not"):
        gapkit.load_encoder("open_clip:RN50", path=tmp_path / "wrong.pt", device="cpu")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("nan")])
def test_cache_key_with_a_nan_part_names_it(bad):
    with pytest.raises(ValueError, match=r"cache key part weights\[1\] is"):
        cache_key(model="m", weights=[0.5, bad])
    assert cache_key(model="m", weights=[0.5, None]) != cache_key(model="m", weights=[0.5, 1.0])


def test_keys_and_put_clean_a_killed_writers_temporary_every_time(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("ab" * 32, np.zeros(2))  # the cache's first use has swept already
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = temp_path(cache.path("ef" * 32), pid=dead.pid)
    stale.parent.mkdir()
    stale.write_bytes(b"\0" * (1 << 20))  # the killed writer's half-written file
    assert cache.keys() == ["ab" * 32]
    assert not stale.exists()
    stale.write_bytes(b"\0" * 1024)
    cache.put("ef" + "a" * 62, np.zeros(2))  # a write in the same folder cleans it too
    assert not stale.exists()
