"""gapkit.sufficient (issue 27): the card's O(n·d) metrics merged from shards equal the single-array functions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gapkit import geometry
from gapkit.sufficient import NOT_REDUCIBLE, REDUCIBLE, GapStats, gap_stats, merge_stats, stats_report, subsample_index

PAIR = "image-text"


def _pairs(n: int, d: int, seed: int = 0, cone: float = 3.0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, d))
    img = shared + cone * np.eye(d)[0] + 0.7 * rng.normal(size=(n, d))
    txt = shared + cone * np.eye(d)[1] + 0.7 * rng.normal(size=(n, d))
    return img.astype(dtype), txt.astype(dtype)


#: uneven shards, one of a single row, as a killed-and-resumed run or a last short shard leaves them
def _shards(n: int) -> list[tuple[int, int]]:
    return [(0, 1), (1, n // 3), (n // 3, n // 3 + 7), (n // 3 + 7, n)]


def _merged(img: np.ndarray, txt: np.ndarray) -> GapStats:
    return merge_stats([gap_stats(img[a:b], txt[a:b]) for a, b in _shards(len(img))])


# each reducible metric against the gapkit.geometry function that defines it (n > d and n < d)
REFERENCES = {
    ("centroid_gap", PAIR): lambda i, t: geometry.centroid_gap(i, t),
    ("paired_distance", PAIR): lambda i, t: geometry.paired_distance(i, t),
    ("paired_cosine", PAIR): lambda i, t: geometry.paired_cosine(i, t),
    ("alignment", PAIR): lambda i, t: geometry.alignment(i, t),
    ("raw_gap", PAIR): lambda i, t: geometry.gap_decomposition(i, t).raw,
    ("distribution_gap", PAIR): lambda i, t: geometry.distribution_gap(i, t),
    ("relative_modality_gap", PAIR): lambda i, t: geometry.relative_modality_gap(i, t),
    ("frechet_distance", PAIR): lambda i, t: geometry.frechet_distance(i, t),
    **{(m, mod): (lambda f, k: lambda i, t: f(i if k == "image" else t))(f, mod)
       for m, f in (("mean_resultant_length", geometry.mean_resultant_length),
                    ("mean_pairwise_cosine", geometry.mean_pairwise_cosine),
                    ("effective_rank", geometry.effective_rank),
                    ("participation_ratio", geometry.participation_ratio),
                    ("first_pc_variance_share", geometry.first_pc_variance_share))
       for mod in ("image", "text")},
}


@pytest.mark.parametrize("n, d", [(600, 24), (50, 96)])
@pytest.mark.parametrize("key", sorted(REFERENCES), ids=lambda k: "-".join(k))
def test_each_metric_merged_from_shards_equals_the_single_array_function(key, n, d):
    img, txt = _pairs(n, d)
    want = REFERENCES[key](img, txt)
    got = _merged(img, txt).metrics()[key]
    # float32 input: gapkit's fused passes sum each block in float32 (about 1e-7 relative); the rest is float64
    assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_every_reducible_metric_has_a_reference_and_metrics_gives_it():
    keys = _merged(*_pairs(40, 8)).metrics()
    assert {k[0] for k in keys} == set(REDUCIBLE) == {k[0] for k in REFERENCES}
    assert not set(REDUCIBLE) & set(NOT_REDUCIBLE)


def test_gap_decomposition_and_uncentred_frechet_from_statistics():
    img, txt = _pairs(300, 16, dtype=np.float64)
    st, dec = _merged(img, txt), geometry.gap_decomposition(img, txt)
    got = st.gap_decomposition()
    for field in ("raw", "centroid", "distribution", "spread_image", "spread_text"):
        assert getattr(got, field) == pytest.approx(getattr(dec, field), rel=1e-12)
    assert got.raw ** 2 == pytest.approx(got.centroid ** 2 + got.distribution ** 2, rel=1e-12)  # Pythagoras
    assert st.frechet_distance(center=False) == pytest.approx(geometry.frechet_distance(img, txt, center=False),
                                                              rel=1e-10)


def test_a_tight_cone_keeps_its_spread_through_the_merge():
    """Rows 1e-4 apart around one direction: moments about a pilot shift, not raw Σxxᵀ (which would cancel)."""
    rng = np.random.default_rng(3)
    d = 16
    img = np.eye(d)[0] + 1e-4 * rng.normal(size=(400, d))
    txt = np.eye(d)[1] + 1e-4 * rng.normal(size=(400, d))
    st = _merged(img, txt)
    assert st.metrics()[("effective_rank", "image")] == pytest.approx(geometry.effective_rank(img), rel=1e-6)
    assert st.gap_decomposition().distribution == pytest.approx(geometry.distribution_gap(img, txt), rel=1e-6)


def test_all_reduce_vector_round_trip_about_common_shifts():
    """What all_reduce sums: each part's vector about one rank's shifts; the sum decodes to the merged statistics."""
    img, txt = _pairs(250, 12)
    parts = [gap_stats(img[a:b], txt[a:b]) for a, b in _shards(250)]
    shifts = parts[2].shifts()
    total = GapStats.from_vector(sum(p.to_vector(shifts) for p in parts), 12, shifts, covariance=True)
    direct = merge_stats(parts)
    assert total.n == 250 and total.shards == len(parts)
    for key, value in direct.metrics().items():
        assert total.metrics()[key] == pytest.approx(value, rel=1e-10, abs=1e-12), key
    with pytest.raises(ValueError, match="expected"):
        GapStats.from_vector(parts[0].to_vector(shifts)[:-1], 12, shifts, covariance=True)


def test_merging_models_of_different_width_is_refused():
    a = gap_stats(*_pairs(10, 8))
    b = gap_stats(*_pairs(10, 9))
    with pytest.raises(ValueError, match="d = 8 and d = 9"):
        a + b


def test_bad_rows_are_named_as_the_metrics_name_them():
    img, txt = _pairs(20, 4)
    img[5] = np.nan
    with pytest.raises(ValueError, match="image"):
        gap_stats(img, txt)


def test_stats_report_is_gap_report_when_every_pair_is_in_the_sample():
    img, txt = _pairs(300, 16)
    card = stats_report(_merged(img, txt), img, txt, n_boot=30, seed=1)
    ref = geometry.gap_report(img, txt, 30, 1)
    assert [(e.metric, e.modality) for e in card.estimates] == [(e.metric, e.modality) for e in ref.estimates]
    for e, r in zip(card.estimates, ref.estimates):
        assert e.value == pytest.approx(r.value, rel=1e-6, abs=1e-9), e.metric
        assert e.ci_low == pytest.approx(r.ci_low, rel=1e-6, abs=1e-9) and e.method == r.method
    assert set(card.params["sufficient_statistics"]["metrics"]) <= set(REDUCIBLE)
    assert set(card.params["not_reducible"]) == set(NOT_REDUCIBLE)
    assert "all 300 pairs" in card.params["not_reducible"]["uniformity"]


def test_stats_report_with_a_subsample_matches_gap_report_max_pairs():
    """Above max_pairs: the single-pass metrics on every pair (merged), the rest on the same seeded subsample."""
    img, txt = _pairs(900, 8)
    idx = subsample_index(900, 200, 0)
    card = stats_report(_merged(img, txt), img[idx], txt[idx], n_boot=20, seed=0)
    ref = geometry.gap_report(img, txt, 20, 0, max_pairs=200)
    for e, r in zip(card.estimates, ref.estimates):
        assert e.value == pytest.approx(r.value, rel=1e-6, abs=1e-9) or e.metric in (
            "effective_rank", "participation_ratio", "first_pc_variance_share"), e.metric  # ours: all pairs
    spectral = card.get("effective_rank", "image")
    assert spectral.value == pytest.approx(geometry.effective_rank(img), rel=1e-9)  # all 900, not the 200
    assert "subsample of 200 pairs" in card.get("uniformity", "image").method
    assert card.params["subsample_pairs"] == 200 and "a seeded subsample of 200" in card.params["not_reducible"]["mmd"]


def test_sufficient_imports_no_torch():
    code = "import sys, gapkit.sufficient; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


def test_bad_parameters_and_samples_are_named():
    img, txt = _pairs(30, 4)
    with pytest.raises((TypeError, ValueError), match="covariance"):
        gap_stats(img, txt, covariance="yes")
    with pytest.raises(ValueError, match="a sample of 40 pairs for statistics of 30 pairs"):
        stats_report(gap_stats(img, txt), np.vstack([img, img[:10]]), np.vstack([txt, txt[:10]]))
