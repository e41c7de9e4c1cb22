"""gapkit.cli._shardrows.ShardRows: several shards read as one array, against numpy.concatenate (issue 27)."""

from __future__ import annotations

import numpy as np
import pytest

from gapkit.cli._shardrows import ShardRows


@pytest.fixture
def parts():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(m, 3)).astype(np.float32) for m in (4, 1, 6, 5)]


KEYS = [slice(None), slice(0, 4), slice(2, 9), slice(3, 5), slice(10, 16), slice(5, 5), slice(14, 100),
        slice(1, 15, 3), slice(None, None, -1), 0, 4, -1, 15, [0, 15, 4, 4, 7], np.array([11, 2]),
        np.arange(16) % 2 == 0,
        (slice(2, 9), 1), ([3, 12], slice(0, 2)), (7, 2)]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_indexing_is_numpy_concatenates(parts, key):
    joined = np.concatenate(parts)
    rows = ShardRows(parts)
    np.testing.assert_array_equal(rows[key], joined[key])
    assert rows.shape == joined.shape and rows.dtype == joined.dtype and rows.ndim == 2 and len(rows) == 16


def test_a_slice_inside_one_shard_is_a_view_and_asarray_joins(parts):
    rows = ShardRows(parts)
    assert np.shares_memory(rows[6:9], parts[2])  # rows 5-10 are the third shard: no copy
    np.testing.assert_array_equal(np.asarray(rows, dtype=np.float64), np.concatenate(parts).astype(np.float64))


def test_bad_indices_and_shards_are_named(parts):
    rows = ShardRows(parts)
    with pytest.raises(IndexError, match="out of range for 16 rows"):
        rows[[16]]
    with pytest.raises(IndexError, match="boolean index"):
        rows[np.ones(3, bool)]
    with pytest.raises(ValueError, match="different row shapes"):
        ShardRows([np.zeros((2, 3)), np.zeros((2, 4))])
