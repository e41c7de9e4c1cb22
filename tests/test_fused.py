"""The fused O(n·d) geometry passes (issue 17) against float64 references.

Every single-pass metric validates, normalises and reduces each block in one go, in the input's
precision (float32 stays float32 inside a block) with float64 accumulators across blocks. Each test
compares with a naive float64 computation on the *same* numbers (the float32 values cast to float64,
each row first divided by its largest magnitude so that the reference itself cannot overflow).

Tolerances, with u = 2**-24 the float32 unit roundoff and B = 512 the rows per block:

- float32 input: 1e-6 absolute on every metric (observed: about 3e-8 at n = 50,000, d = 512). The
  worst-case bound of a block's float32 sum is (B + d)·u ≈ 6e-5 relative, the typical error
  √B·u ≈ 1.4e-6 per block, averaged down across blocks by the float64 total. A float32 accumulator
  over *all* rows would be off by about √n·u (3e-5 at n = 200,000), which the tolerance catches.
- float64 input: 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

from gapkit import geometry as g
from gapkit._validation import as_matrix, as_paired, unit_scales

PAIR = ["centroid_gap", "paired_distance", "paired_cosine", "alignment", "relative_modality_gap"]
SINGLE = ["mean_resultant_length", "mean_pairwise_cosine"]


def _unit64(x):
    x = np.asarray(x, dtype=np.float64)
    x = x / np.abs(x).max(axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference(image, text):
    """Every O(n·d) metric, naively in float64 (the gap vector too)."""
    v, t = _unit64(image), _unit64(text)
    n = len(v)
    cos = (v * t).sum(axis=1)
    dist = np.linalg.norm(v - t, axis=1)

    def mpc(x):
        s = x.sum(axis=0)
        return (s @ s - n) / (n * n - n)

    m, a, b = (1 - cos.mean()) / 2, (1 - mpc(v)) / 2, (1 - mpc(t)) / 2
    return {
        "gap_vector": v.mean(axis=0) - t.mean(axis=0),
        "centroid_gap": np.linalg.norm(v.mean(axis=0) - t.mean(axis=0)),
        "paired_distance": dist.mean(),
        "paired_cosine": cos.mean(),
        "alignment": (dist**2).mean(),
        "relative_modality_gap": m / (m + (a + b) / 2),
        "mean_resultant_length": np.linalg.norm(v.mean(axis=0)),
        "mean_pairwise_cosine": mpc(v),
        # the decomposition of Liu et al. (gap_decomposition), each part straight from its definition
        "raw": np.sqrt((dist**2).mean()),
        "distribution": np.sqrt(np.mean(np.sum(((v - v.mean(0)) - (t - t.mean(0))) ** 2, axis=1))),
        "spread_image": np.sqrt(np.mean(np.sum((v - v.mean(0)) ** 2, axis=1))),
        "spread_text": np.sqrt(np.mean(np.sum((t - t.mean(0)) ** 2, axis=1))),
    }


DECOMPOSITION = ["raw", "distribution", "spread_image", "spread_text"]


def force_two_threads(monkeypatch):
    """Every fused pass that can split does, whatever the size, the CPU count and the BLAS thread limit."""
    monkeypatch.setattr(g._rows, "_PARALLEL_ELEMS", 0)
    monkeypatch.setattr(g._fused, "_cpu_count", lambda: 2)
    monkeypatch.setattr(g._fused, "_blas_thread_count", lambda: 2)


@pytest.fixture(params=["serial", "two threads"])
def threads(request, monkeypatch):
    """Run a test with the two-modality and two-half passes serial, and forced onto two threads.

    Returns the list of worker hand-offs (empty in the serial case), so a test can check the path it took.
    """
    handoffs: list[int] = []
    if request.param == "serial":
        monkeypatch.setattr(g._rows, "_PARALLEL_ELEMS", 1 << 62)
    else:
        force_two_threads(monkeypatch)
        worker = g._fused._fused_worker

        def counted():
            handoffs.append(1)
            return worker()

        monkeypatch.setattr(g._fused, "_fused_worker", counted)
    return request.param, handoffs


def check_all(image, text, tol):
    ref = reference(image, text)
    for name in PAIR:
        assert getattr(g, name)(image, text) == pytest.approx(ref[name], abs=tol), name
    for name in SINGLE:
        assert getattr(g, name)(image) == pytest.approx(ref[name], abs=tol), name
    np.testing.assert_allclose(g.gap_vector(image, text), ref["gap_vector"], rtol=0, atol=tol)
    dec = g.gap_decomposition(image, text)
    assert dec.centroid == pytest.approx(ref["centroid_gap"], abs=tol)
    for name in DECOMPOSITION:
        assert getattr(dec, name) == pytest.approx(ref[name], abs=tol), name


def cone_pairs(n, d, seed=0, dtype=np.float32):
    """Image rows in a cone, texts correlated with them in another cone (the benchmark's data in small)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, d))
    img = noise + np.sqrt(d) * np.eye(d)[0]
    txt = 0.6 * noise + rng.standard_normal((n, d)) + 0.8 * np.sqrt(d) * np.eye(d)[1]
    return img.astype(dtype), txt.astype(dtype)


@pytest.mark.parametrize("n,d", [(2, 3), (513, 512), (20_000, 64)])
def test_float32_matches_float64_reference(n, d, threads):
    img, txt = cone_pairs(n, d)
    check_all(img, txt, 1e-6)
    mode, handoffs = threads
    assert bool(handoffs) == (mode == "two threads")


def test_two_threads_give_the_serial_answers(monkeypatch):
    """Each modality's sum stays whole on one thread (bit for bit); the pair pass's and the decomposition's halves of
    blocks merge exactly (to the rounding of the float64 totals)."""
    monkeypatch.setattr(g._rows, "_FUSED_ELEMS", 64 * 100)  # 100-row blocks: 37 of them, halves of 18 and 19
    img, txt = cone_pairs(3700, 64, seed=11)
    monkeypatch.setattr(g._rows, "_PARALLEL_ELEMS", 1 << 62)
    serial_vec, serial_dec = g.gap_vector(img, txt), g.gap_decomposition(img, txt)
    serial_pair = g._pair_pass(img, txt)
    serial = {name: getattr(g, name)(img, txt) for name in PAIR}
    force_two_threads(monkeypatch)
    np.testing.assert_array_equal(g.gap_vector(img, txt), serial_vec)
    pair = g._pair_pass(img, txt)  # every pair's cosine and distance as computed serially; the sums to rounding
    np.testing.assert_array_equal(pair.cos, serial_pair.cos)
    np.testing.assert_array_equal(pair.dist, serial_pair.dist)
    np.testing.assert_allclose(pair.sum_image, serial_pair.sum_image, rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(pair.sum_text, serial_pair.sum_text, rtol=1e-14, atol=1e-12)
    for name in PAIR:
        assert getattr(g, name)(img, txt) == pytest.approx(serial[name], rel=1e-13, abs=1e-15), name
    dec = g.gap_decomposition(img, txt)
    assert dec.n == serial_dec.n
    for name in DECOMPOSITION + ["centroid"]:
        assert getattr(dec, name) == pytest.approx(getattr(serial_dec, name), rel=1e-13, abs=1e-15), name


def test_two_threads_only_where_they_can_gain(monkeypatch):
    """Serial below the size threshold, on one CPU, and where numpy's BLAS is held to one thread."""
    handoffs: list[int] = []
    worker = g._fused._fused_worker
    monkeypatch.setattr(g._fused, "_fused_worker", lambda: handoffs.append(1) or worker())
    img, txt = cone_pairs(300, 16, seed=12)
    monkeypatch.setattr(g._fused, "_cpu_count", lambda: 2)
    monkeypatch.setattr(g._rows, "_PARALLEL_ELEMS", img.size + 1)
    g.centroid_gap(img, txt)
    assert not handoffs  # below the threshold
    monkeypatch.setattr(g._rows, "_PARALLEL_ELEMS", img.size)
    with g._one_blas_thread():  # the caller holds numpy's BLAS to one thread (as the sweeps do)
        g.centroid_gap(img, txt)
    assert not handoffs
    monkeypatch.setattr(g._fused, "_blas_thread_count", lambda: 2)
    monkeypatch.setattr(g._fused, "_cpu_count", lambda: 1)
    g.centroid_gap(img, txt)
    assert not handoffs  # one CPU
    monkeypatch.setattr(g._fused, "_cpu_count", lambda: 2)
    g.centroid_gap(img, txt)
    assert handoffs  # and the check can tell: here it does hand off


def test_one_blas_thread_restores_the_callers_setting():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    with threadpool_limits(2, user_api="blas"):
        before = blas()
        assert before and 1 not in before
        with g._one_blas_thread():
            assert set(blas()) == {1}
            with g._one_blas_thread():  # nested: still one, and the outer restores
                assert set(blas()) == {1}
            assert set(blas()) == {1}
        assert blas() == before


def test_a_pass_started_on_the_worker_stays_serial(monkeypatch):
    """Work the worker runs may itself call a metric: that one runs serially instead of waiting on itself."""
    import threading

    force_two_threads(monkeypatch)
    img, txt = cone_pairs(300, 8, seed=14)
    want = g.centroid_gap(img, txt)
    got = []
    caller = threading.Thread(target=lambda: got.append(
        g._fused._on_two_threads(lambda: g.centroid_gap(img, txt), lambda: g.centroid_gap(img, txt))), daemon=True)
    caller.start()
    caller.join(timeout=60)
    assert not caller.is_alive(), "a pass started on the worker waited for the worker"
    assert got == [(want, want)]


def test_a_worker_that_takes_no_work_leaves_the_pass_serial(monkeypatch):
    """After interpreter shutdown has begun an executor refuses new work: the pass then runs serially, same answer."""
    from concurrent.futures import ThreadPoolExecutor

    img, txt = cone_pairs(300, 8, seed=15)
    monkeypatch.setattr(g._rows, "_FUSED_ELEMS", 8 * 50)  # 6 blocks, so the decomposition would split too
    monkeypatch.setattr(g._rows, "_PARALLEL_ELEMS", 1 << 62)
    want_vec, want_dec = g.gap_vector(img, txt), g.gap_decomposition(img, txt)
    closed = ThreadPoolExecutor(1)
    closed.shutdown()
    force_two_threads(monkeypatch)
    monkeypatch.setattr(g._fused, "_fused_worker", lambda: closed)
    np.testing.assert_array_equal(g.gap_vector(img, txt), want_vec)
    assert g.gap_decomposition(img, txt).distribution == pytest.approx(want_dec.distribution, rel=1e-12)


def _centroid_gap_in_child(img, txt):
    return g.centroid_gap(img, txt)


def test_a_forked_child_gets_its_own_worker(monkeypatch):
    """The worker thread does not survive a fork; a child that used the parent's executor would wait forever."""
    import multiprocessing

    force_two_threads(monkeypatch)
    img, txt = cone_pairs(200, 8, seed=13)
    here = g.centroid_gap(img, txt)  # the parent's worker now exists
    assert g._fused._FUSED_WORKER is not None
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_centroid_gap_in_child, (img, txt)).get(timeout=60) == here


def test_float32_sums_are_accumulated_in_float64_across_blocks():
    # 200,000 rows in a tight cone: one float32 accumulator over all rows drifts by ~1e-5
    rng = np.random.default_rng(1)
    n, d = 200_000, 8
    img = (np.ones((n, d)) + 0.1 * rng.standard_normal((n, d))).astype(np.float32)
    txt = (np.ones((n, d)) + 0.1 * rng.standard_normal((n, d)) + np.eye(d)[0]).astype(np.float32)
    check_all(img, txt, 1e-6)
    naive32 = float(np.linalg.norm((img / np.linalg.norm(img, axis=1, keepdims=True)).sum(axis=0, dtype=np.float32)
                                   / n))
    ref = reference(img, txt)["mean_resultant_length"]
    assert g.mean_resultant_length(img) == pytest.approx(ref, abs=1e-7)
    assert abs(naive32 - ref) > 1e-6  # the data tell the two apart: one float32 accumulator is off by ~5e-6


@pytest.mark.parametrize("group", [1, 3])
@pytest.mark.parametrize("elems", [20, 1 << 10, 1 << 18])
def test_block_boundaries_float64(monkeypatch, elems, group, threads):
    monkeypatch.setattr(g._rows, "_FUSED_ELEMS", elems)
    monkeypatch.setattr(g._rows, "_FUSED_GROUP", group)  # blocks per stacked call of _unit_sum
    img, txt = cone_pairs(777, 13, seed=2, dtype=np.float64)
    check_all(img, txt, 1e-12)


def test_float16_input_is_computed_in_float32():
    img, txt = cone_pairs(3000, 32, seed=3, dtype=np.float16)
    check_all(img, txt, 1e-6)


def test_near_identical_pairs_keep_their_distance():
    # distances of ~1e-4: from 2 − 2cos in float32 they would be noise (cos is only good to ~1e-7)
    rng = np.random.default_rng(4)
    img = rng.standard_normal((4000, 64)).astype(np.float32)
    txt = (img + 1e-4 * rng.standard_normal(img.shape)).astype(np.float32)
    ref = reference(img, txt)
    assert ref["paired_distance"] < 2e-4
    assert g.paired_distance(img, txt) == pytest.approx(ref["paired_distance"], rel=1e-3)
    assert g.alignment(img, txt) == pytest.approx(ref["alignment"], rel=2e-3)
    # a mix of close and far pairs: both routes in one block
    txt[::2] = rng.standard_normal((2000, 64))
    ref = reference(img, txt)
    assert g.paired_distance(img, txt) == pytest.approx(ref["paired_distance"], abs=1e-6)


def test_a_tiny_distribution_gap_beside_a_large_centroid_gap_keeps_its_digits(threads):
    """Texts a translate of the images on the sphere (in float32): distribution gap ~1e-8, centroid gap 0.6.

    Each block is centred on its own mean before squaring, so the small part is not the difference
    of two large ones: ``sqrt(raw² − centroid²)`` in float32 can be off by up to ~√u·raw ≈ 1e-4.
    """
    rng = np.random.default_rng(9)
    n, d, h = 3000, 64, 0.3
    u = rng.standard_normal((n, d - 1))
    u *= np.sqrt(1 - h * h) / np.linalg.norm(u, axis=1, keepdims=True)
    img = np.hstack([u, np.full((n, 1), h)]).astype(np.float32)
    txt = np.hstack([u, np.full((n, 1), -h)]).astype(np.float32)
    ref = reference(img, txt)
    dec = g.gap_decomposition(img, txt)
    assert ref["distribution"] < 1e-6 and dec.centroid == pytest.approx(2 * h, abs=1e-6)
    assert dec.distribution == pytest.approx(ref["distribution"], abs=1e-7)


# ---------------------------------------------------------------- extreme scales inside the pass

SCALED = {
    "float32": (np.float32, [1e30, 1e-30, 1e19, 1e-20, 1.0]),
    "float64": (np.float64, [1e200, 1e-200, 1e300, 1e-300, 1.0]),
}


@pytest.mark.parametrize("kind", sorted(SCALED))
def test_rows_at_hostile_scales_mixed_with_ordinary_rows(monkeypatch, kind, threads):
    dtype, scales = SCALED[kind]
    monkeypatch.setattr(g._rows, "_FUSED_ELEMS", 40 * 16)  # blocks of 40 rows: some blocks all rare, some mixed
    img, txt = cone_pairs(400, 16, seed=5, dtype=np.float64)
    rng = np.random.default_rng(6)
    si = (img * rng.choice(scales, size=(400, 1))).astype(dtype)
    st = (txt * rng.choice(scales, size=(400, 1))).astype(dtype)
    si[:40] = (img[:40] * scales[0]).astype(dtype)  # a whole block of rows whose squares overflow
    tol = 1e-6 if dtype == np.float32 else 1e-12
    check_all(si, st, tol)
    # and the answer is the one of the unscaled rows
    check_all(img.astype(dtype), txt.astype(dtype), tol)
    for name in PAIR:
        assert getattr(g, name)(si, st) == pytest.approx(getattr(g, name)(img.astype(dtype), txt.astype(dtype)),
                                                         abs=2 * tol), name


def test_unit_scales_flags_exactly_the_unsafe_rows():
    x = np.ones((8, 4), dtype=np.float32)
    x[1] *= 1e30       # squares overflow
    x[2] *= 1e-30      # squares underflow
    x[3] = 0.0         # zero row
    x[4, 2] = np.nan
    x[5, 0] = np.inf
    x[6] *= 1e15       # large, but the squares are fine
    w, rare = unit_scales(x)
    np.testing.assert_array_equal(rare, [1, 2, 3, 4, 5])
    assert w.dtype == np.float32 and (w[rare] == 0).all()
    keep = [0, 6, 7]
    np.testing.assert_allclose(w[keep], 1 / np.linalg.norm(x[keep].astype(np.float64), axis=1), rtol=1e-6)
    w64, rare64 = unit_scales(x[keep].astype(np.float64) * 1e100)
    assert rare64 is None and w64.dtype == np.float64
    w0, rare0 = unit_scales(x[:0])  # an empty block: nothing to scale, nothing rare
    assert w0.shape == (0,) and rare0 is None
    for bad in (np.nan, np.inf, 0.0):  # one unsafe row among safe ones is found (the fast check is a min/max)
        y = np.ones((5, 4), dtype=np.float32)
        y[3] = bad
        np.testing.assert_array_equal(unit_scales(y)[1], [3])


# ---------------------------------------------------------------- the row check is part of the pass


def _message(fn, *args):
    with pytest.raises(ValueError) as info:
        fn(*args)
    return str(info.value)


@pytest.mark.parametrize("name", PAIR + ["gap_vector", "gap_decomposition", "distribution_gap"])
def test_bad_rows_in_later_blocks_are_named_as_by_the_full_check(monkeypatch, name, threads):
    monkeypatch.setattr(g._rows, "_FUSED_ELEMS", 10 * 8)  # 10 rows per block
    img, txt = cone_pairs(100, 8, seed=7)
    bad_img, bad_txt = img.copy(), txt.copy()
    bad_img[57, 3] = np.nan
    bad_img[91, 0] = np.inf
    bad_txt[12] = 0.0
    fn = getattr(g, name)
    # text's zero row comes first in the data, but image is checked first, as by as_paired
    assert _message(fn, bad_img, bad_txt) == _message(as_paired, bad_img, bad_txt)
    assert "rows 57, 91" in _message(fn, bad_img, bad_txt)
    assert _message(fn, img, bad_txt) == _message(as_paired, img, bad_txt)
    assert "all zeros" in _message(fn, img, bad_txt)
    # a bad row next to rows that overflow: the bad row is still named
    huge = img * np.float32(1e30)
    huge[44, 1] = np.nan
    assert _message(fn, huge, txt) == _message(as_paired, huge, txt)
    assert "row(s) contain NaN or inf (rows 44)" in _message(fn, huge, txt)
    # shape errors keep their order too: bad rows first, then the mismatch
    assert _message(fn, bad_img, txt[:-1]) == _message(as_paired, bad_img, txt[:-1])
    assert "different numbers of rows" in _message(fn, img, txt[:-1])


@pytest.mark.parametrize("name", SINGLE)
def test_bad_rows_single_modality(monkeypatch, name):
    monkeypatch.setattr(g._rows, "_FUSED_ELEMS", 10 * 8)
    x, _ = cone_pairs(100, 8, seed=8)
    x[33] = 0.0
    x[80, 5] = -np.inf
    assert _message(getattr(g, name), x) == _message(as_matrix, x)


# ---------------------------------------------------------------- same answers from CUDA tensors


@pytest.mark.gpu
def test_cuda_float32_tensors_give_the_numpy_answers():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    img, txt = cone_pairs(5000, 128, seed=9)
    ci, ct = torch.tensor(img, device="cuda"), torch.tensor(txt, device="cuda")
    for name in PAIR:
        assert getattr(g, name)(ci, ct) == getattr(g, name)(img, txt), name
    for name in SINGLE:
        assert getattr(g, name)(ci) == getattr(g, name)(img), name
    assert g.centroid_gap(ci.half(), ct.half()) == pytest.approx(reference(img, txt)["centroid_gap"], abs=2e-3)
