"""The gap report: every gap and cone metric with bootstrap confidence intervals (:func:`gap_report`)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._distribution import frechet_distance, gap_decomposition, mmd
from .._io import atomic_open
from .._validation import Integral, Interval, as_paired, validate_params
from ._centroid import _rmg_from_parts
from ._fused import _pair_pass
from ._params import _FRACTION, _KERNEL_T, _MAX_ROWS, _SEED
from ._rows import _row_slices, _unit_rows
from ._separability import SEPARABILITY_MAX_PAIRS, _separability
from ._spectrum import _centred_spectrum, _effective_rank_from, _participation_ratio_from, _pc1_share_from
from ._spread import UNIFORMITY_MAX_SAMPLES, _off_diagonal_cosine, _subsample_index, _uniformity_core

_PAIR = "image-text"
_MODALITIES = ("image", "text")


@dataclass(frozen=True)
class Estimate:
    """One metric value with its confidence interval.

    Attributes
    ----------
    metric : str
        Name of the gapkit function that computes it.
    modality : {"image", "text", "image-text"}
        ``"image-text"`` for cross-modal metrics.
    value : float
        Point estimate on all the data.
    ci_low, ci_high : float
        Interval bounds (NaN when no interval was computed).
    method : str
        ``"percentile bootstrap"``, ``"percentile bootstrap (bias-centred)"``
        (spectral metrics, see :func:`gap_report`), ``"wilson (held-out set)"`` or ``"none"``.
    n_boot : int
        Bootstrap replicates behind the interval (0 if not bootstrapped).
    """

    metric: str
    modality: str
    value: float
    ci_low: float
    ci_high: float
    method: str
    n_boot: int


@dataclass(frozen=True)
class GapReport:
    """Every gap and cone metric of one paired data set, with confidence intervals.

    Built by :func:`gap_report`. ``estimates`` holds one :class:`Estimate` per
    (metric, modality); look one up with ``report.get("centroid_gap")`` or
    ``report.get("effective_rank", "text")``, or its value with
    ``report["centroid_gap"]`` / ``report["effective_rank", "text"]``.

    ``inputs`` is the provenance the ``gapkit`` command line records (each input's path or
    published name, its SHA-256, shape and dtype); ``groups`` one dict per label with ``--labels``
    (``label``, ``n``, ``centroid_gap``, ``paired_cosine``). Both are empty for a report built in Python
    until set with :func:`dataclasses.replace`.
    """

    n: int
    d: int
    n_boot: int
    seed: int | None
    ci_level: float
    estimates: tuple[Estimate, ...]
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    groups: tuple[dict[str, Any], ...] = ()

    def get(self, metric: str, modality: str | None = None) -> Estimate:
        """The estimate for ``metric`` (``modality`` required for per-modality metrics)."""
        hits = [e for e in self.estimates if e.metric == metric and (modality is None or e.modality == modality)]
        if len(hits) != 1:
            known = sorted({(e.metric, e.modality) for e in self.estimates})
            raise KeyError(
                f"no unique estimate for metric={metric!r}, modality={modality!r}; "
                f"per-modality metrics need modality='image' or 'text'. Known: {known}"
            )
        return hits[0]

    def __getitem__(self, key: str | tuple[str, str]) -> float:
        metric, modality = (key, None) if isinstance(key, str) else key
        return self.get(metric, modality).value

    def to_frame(self):  # -> pandas.DataFrame
        """Tidy table: one row per (metric, modality) with value, ci_low, ci_high, method, n_boot."""
        import pandas as pd

        cols = ["metric", "modality", "value", "ci_low", "ci_high", "method", "n_boot"]
        return pd.DataFrame([asdict(e) for e in self.estimates], columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes ``None``)."""

        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        from .. import __version__

        return {
            "format": "gapkit.GapReport",
            "version": 2,  # 2: gapkit_version, inputs and groups (version 1 documents are still read)
            "gapkit_version": __version__,
            "n": self.n,
            "d": self.d,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "ci_level": self.ci_level,
            "params": dict(self.params),
            "estimates": [{k: clean(v) for k, v in asdict(e).items()} for e in self.estimates],
            "inputs": dict(self.inputs),
            "groups": [{k: clean(v) for k, v in g.items()} for g in self.groups],
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Serialise to JSON; with ``path``, also write it atomically (temp file + ``os.replace``)."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            with atomic_open(path, "w") as fh:
                fh.write(text)
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> "GapReport":
        """Rebuild a report from a JSON string or from a path written by :meth:`to_json`."""
        if isinstance(source, str) and source.lstrip().startswith("{"):
            data = json.loads(source)
        else:
            with open(source, encoding="utf-8") as fh:
                data = json.load(fh)
        if data.get("format") != "gapkit.GapReport":
            raise ValueError("not a gapkit GapReport JSON document (missing format='gapkit.GapReport').")

        def num(v: Any) -> float:
            return float("nan") if v is None else float(v)

        estimates = tuple(
            Estimate(
                metric=e["metric"], modality=e["modality"], value=num(e["value"]), ci_low=num(e["ci_low"]),
                ci_high=num(e["ci_high"]), method=e["method"], n_boot=int(e["n_boot"]),
            )
            for e in data["estimates"]
        )
        return cls(
            n=int(data["n"]), d=int(data["d"]), n_boot=int(data["n_boot"]), seed=data["seed"],
            ci_level=float(data["ci_level"]), estimates=estimates, params=dict(data.get("params", {})),
            inputs=dict(data.get("inputs", {})),
            groups=tuple({k: (num(v) if k not in ("label", "n") else v) for k, v in g.items()}
                         for g in data.get("groups", [])),
        )


def _bootstrap_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) resampling counts: row b says how often each pair was drawn in replicate b."""
    counts = np.empty((n_boot, n), dtype=np.uint16)
    for b in range(n_boot):
        counts[b] = np.bincount(rng.integers(0, n, size=n), minlength=n)
    return counts


def _weighted_sums(counts: np.ndarray, first: np.ndarray, *vectors: np.ndarray) -> list[np.ndarray]:
    """``counts**2 @ first`` and ``counts @ v`` for each v, in column chunks (no float64 copy of counts)."""
    b, n = counts.shape
    out = [np.zeros(b) for _ in range(1 + len(vectors))]
    for sl in _row_slices(n, b):
        w = counts[:, sl].astype(np.float64)
        out[0] += (w * w) @ first[sl]
        for k, v in enumerate(vectors, start=1):
            out[k] += w @ v[sl]
    return out


def _wilson(acc: float, n: int, level: float) -> tuple[float, float]:
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2.0))
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@validate_params({"n_boot": [Interval(Integral, 0, None, closed="left")], "seed": _SEED, "ci": _FRACTION,
                  "spectral_boot": [None, Interval(Integral, 0, None, closed="left")], "uniformity_t": _KERNEL_T,
                  "uniformity_max_samples": _MAX_ROWS, "separability": ["boolean"], "test_size": _FRACTION,
                  "separability_max_pairs": _MAX_ROWS, "two_sample": ["boolean"], "max_pairs": _MAX_ROWS})
def gap_report(
    image: Any,
    text: Any,
    n_boot: int = 200,
    seed: int | None = 0,
    *,
    ci: float = 0.95,
    spectral_boot: int | None = 50,
    uniformity_t: float = 2.0,
    uniformity_max_samples: int | None = UNIFORMITY_MAX_SAMPLES,
    separability: bool = True,
    test_size: float = 0.2,
    separability_max_pairs: int | None = SEPARABILITY_MAX_PAIRS,
    two_sample: bool = False,
    max_pairs: int | None = None,
) -> GapReport:
    """Every gap and cone metric with percentile-bootstrap confidence intervals.

    Rows are L2-normalised first. Point estimates are the values of the
    standalone functions on all the data (same seeds, so e.g.
    ``report["uniformity", "image"] == uniformity(image, seed=seed)``).
    Intervals resample *pairs* with replacement and take the
    ``(1 − ci)/2`` and ``(1 + ci)/2`` percentiles of the replicates:

    - centroid gap, paired distance/cosine, alignment, RMG, mean resultant
      length and mean pairwise cosine: ``n_boot`` replicates, vectorised (one
      chunked pass with a ``(n_boot, n)`` count matrix, O(n_boot·n·d));
      pairwise means in replicates run over pairs of distinct original rows,
      so duplicated draws do not count as zero-distance pairs;
    - raw gap and distribution gap (:func:`gap_decomposition`, ``raw² = centroid² +
      distribution²``): same replicates, each from its resample's alignment and centroid gap;
    - effective rank, participation ratio, PC1 share: ``spectral_boot``
      replicates (default 50; ``None`` = ``n_boot``), each O(n·d²). A resample
      holds only ~63 % distinct rows (its effective sample size is about n/2),
      which spreads the sample eigenvalues further apart (Marchenko–Pastur), so
      raw replicates of these statistics are biased (effective rank and
      participation ratio low, PC1 share high) by more than their spread when
      d/n is not small. The replicates are therefore recentred on the point
      estimate before taking percentiles (method
      ``"percentile bootstrap (bias-centred)"``): the interval shows sampling
      spread around the estimate; it does not remove the estimator's own
      finite-sample bias, which also grows with d/n;
    - uniformity: ``n_boot`` replicates over the (sub)sample of at most
      ``uniformity_max_samples`` pairs, blocked;
    - linear separability: not bootstrapped (one fit per replicate would be too
      slow); its interval is the Wilson score interval of the held-out accuracy,
      which covers test-set noise only.

    Parameters
    ----------
    image, text : array-like or torch.Tensor, shape (n, d)
    n_boot : int
        Bootstrap replicates (0 = no intervals, NaN bounds).
    seed : int or None
        Seeds the bootstrap, the uniformity subsample and the separability split.
    ci : float
        Confidence level (default 0.95).
    spectral_boot, uniformity_t, uniformity_max_samples, separability, test_size, separability_max_pairs
        See above and the standalone functions.
    two_sample : bool
        Also report :func:`frechet_distance` and :func:`mmd` of the centred modalities (point
        estimates, not bootstrapped: each replicate would cost an O(n·d²) fit; NaN bounds).
    max_pairs : int or None
        Out of core (``None``: off). With more than ``max_pairs`` pairs, the single-pass metrics
        (centroid gap, paired distance and cosine, alignment, raw and distribution gap, RMG, mean
        resultant length, mean pairwise cosine) are computed on *all* pairs in one blockwise pass
        (the distribution gap as ``√(alignment − centroid²)``, or from :func:`gap_decomposition`'s own
        pass where that would cancel) that never copies the input (a memory-mapped ``.npy`` stays on disk), and everything that
        cannot be done in a pass is computed on a seeded subsample of ``max_pairs`` pairs: the
        bootstrap replicates of the single-pass metrics, rescaled by ``√(max_pairs / n)`` around the
        full-data estimate (the m-out-of-n bootstrap of a root-n statistic), and the spectral
        metrics, uniformity, separability and two-sample distances (point estimate and interval).
        Each estimate's ``method`` says which; ``params`` records ``subsample_pairs`` and
        ``subsampled_metrics``.

    Returns
    -------
    GapReport
        Also stores ``n``, ``d``, ``n_boot``, ``seed`` and the parameters.

    Notes
    -----
    Cost: one O(n_boot·n·d) pass, ``2·spectral_boot`` O(n·d²) passes and
    O(n_boot·m²) for uniformity, plus an ``(n_boot, n)`` uint16 count matrix.
    About 5 s for n = 5,000, d = 512 on two CPU cores; for n in the
    hundreds of thousands lower ``spectral_boot`` (or pass ``0``) first.

    Chapters 3, 4.
    """
    if max_pairs is not None:
        img, txt = as_paired(image, text, check_rows=False)  # the fused passes check every row as they go
        if img.shape[0] > max_pairs:
            return _large_report(img, txt, int(max_pairs), n_boot, seed, ci, dict(
                spectral_boot=spectral_boot, uniformity_t=uniformity_t, uniformity_max_samples=uniformity_max_samples,
                separability=separability, test_size=test_size, separability_max_pairs=separability_max_pairs,
                two_sample=two_sample))
    img, txt = as_paired(image, text)
    n, d = img.shape
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be strictly between 0 and 1, got {ci}.")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}.")
    q = (100 * (1 - ci) / 2, 100 * (1 + ci) / 2)
    boot_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0] if seed is not None else None)
    counts = _bootstrap_counts(n, n_boot, boot_rng) if n_boot > 0 else None
    estimates: list[Estimate] = []

    def add(metric: str, modality: str, value: float, reps: np.ndarray | None, method: str = "percentile bootstrap"):
        if reps is None or len(reps) == 0:
            lo = hi = float("nan")
            method, nb = "none", 0
        else:
            reps = np.asarray(reps, dtype=np.float64)
            lo, hi = (float(v) for v in np.nanpercentile(reps, q))
            nb = len(reps)
        estimates.append(Estimate(metric, modality, float(value), lo, hi, method, nb))

    # one pass: sums, per-pair cosines and distances, bootstrap-weighted sums
    p = _pair_pass(img, txt, counts)
    sums = {"image": p.sum_image, "text": p.sum_text}
    mpc = {mod: _off_diagonal_cosine(s, n) for mod, s in sums.items()}
    mean_cos = float(p.cos.mean())
    if counts is not None:
        ssw, boot_cos, boot_dist, boot_align = _weighted_sums(counts, np.ones(n), p.cos, p.dist, p.dist * p.dist)
        boot_cos, boot_dist, boot_align = boot_cos / n, boot_dist / n, boot_align / n
        boot_sums = {"image": p.boot_image, "text": p.boot_text}
        boot_mpc = {
            mod: (np.einsum("bd,bd->b", s, s) - ssw) / (n * n - ssw) for mod, s in boot_sums.items()
        }
        boot_gap = np.linalg.norm((p.boot_image - p.boot_text) / n, axis=1)
        boot_rmg = np.array(
            [_rmg_from_parts(boot_cos[b], boot_mpc["image"][b], boot_mpc["text"][b]) for b in range(n_boot)]
        )
    else:
        boot_sums = boot_mpc = {"image": None, "text": None}
        boot_cos = boot_gap = boot_dist = boot_align = boot_rmg = None

    add("centroid_gap", _PAIR, np.linalg.norm((p.sum_image - p.sum_text) / n), boot_gap)
    add("paired_distance", _PAIR, p.dist.mean(), boot_dist)
    add("paired_cosine", _PAIR, mean_cos, boot_cos)
    add("alignment", _PAIR, (p.dist * p.dist).mean(), boot_align)
    dec = gap_decomposition(img, txt)
    add("raw_gap", _PAIR, dec.raw, None if boot_align is None else np.sqrt(boot_align))
    add("distribution_gap", _PAIR, dec.distribution,
        None if boot_align is None else np.sqrt(np.clip(boot_align - boot_gap * boot_gap, 0.0, None)))
    if two_sample:
        add("frechet_distance", _PAIR, frechet_distance(img, txt), None)
        add("mmd", _PAIR, mmd(img, txt, seed=seed), None)
    add("relative_modality_gap", _PAIR, _rmg_from_parts(mean_cos, mpc["image"], mpc["text"]), boot_rmg)
    if separability:
        acc, n_test = _separability(img, txt, test_size, seed, separability_max_pairs, 1.0)
        lo, hi = _wilson(acc, n_test, ci)
        estimates.append(Estimate("linear_separability", _PAIR, acc, lo, hi, "wilson (held-out set)", 0))

    arrays = {"image": img, "text": txt}
    n_spec = n_boot if spectral_boot is None else min(spectral_boot, n_boot)
    uidx = _subsample_index(n, uniformity_max_samples, seed)
    m = n if uidx is None else len(uidx)
    ucounts = _bootstrap_counts(m, n_boot, boot_rng) if n_boot > 0 else None
    for mod in _MODALITIES:
        arr = arrays[mod]
        add("mean_resultant_length", mod, np.linalg.norm(sums[mod]) / n,
            None if counts is None else np.linalg.norm(boot_sums[mod], axis=1) / n)
        add("mean_pairwise_cosine", mod, mpc[mod], boot_mpc[mod])
        lam = _centred_spectrum(arr)
        spec_reps = [_centred_spectrum(arr, counts[b]) for b in range(n_spec)] if counts is not None else []
        for name, fn in (
            ("effective_rank", _effective_rank_from),
            ("participation_ratio", _participation_ratio_from),
            ("first_pc_variance_share", _pc1_share_from),
        ):
            value = fn(lam)
            reps = np.array([fn(r) for r in spec_reps]) if spec_reps else None
            if reps is not None:  # recentre: resamples are biased low/high (duplicated rows), see docstring
                reps = reps - np.nanmean(reps) + value
            add(name, mod, value, reps, "percentile bootstrap (bias-centred)")
        u = _unit_rows(arr if uidx is None else arr[uidx])
        uni = float(_uniformity_core(u, float(uniformity_t), None, None)[0])
        add("uniformity", mod, uni, None if ucounts is None else _uniformity_core(u, float(uniformity_t), ucounts, None))
        del u

    params = {
        "spectral_boot": n_spec,
        "uniformity_t": float(uniformity_t),
        "uniformity_max_samples": None if uniformity_max_samples is None else int(uniformity_max_samples),
        "uniformity_rows_used": int(m),
        "separability": bool(separability),
        "test_size": float(test_size),
        "separability_max_pairs": None if separability_max_pairs is None else int(separability_max_pairs),
        "two_sample": bool(two_sample),
        "max_pairs": None if max_pairs is None else int(max_pairs),
    }
    return GapReport(n=n, d=d, n_boot=int(n_boot), seed=None if seed is None else int(seed), ci_level=float(ci),
                     estimates=tuple(estimates), params=params)


#: the metrics :func:`_large_report` computes on every pair, in one pass (plus the decomposition's)
_SINGLE_PASS = ("centroid_gap", "paired_distance", "paired_cosine", "alignment", "raw_gap", "distribution_gap",
                "relative_modality_gap", "mean_resultant_length", "mean_pairwise_cosine")


def _large_report(img: np.ndarray, txt: np.ndarray, m: int, n_boot: int, seed: int | None, ci: float,
                  kw: dict[str, Any]) -> GapReport:
    """:func:`gap_report` with ``max_pairs=m < n``: single-pass metrics on all pairs, the rest on m of them."""
    n, d = img.shape
    p = _pair_pass(img, txt, None)  # blockwise: validates, normalises and reduces each block in cache
    mpc = {mod: _off_diagonal_cosine(s, n) for mod, s in (("image", p.sum_image), ("text", p.sum_text))}
    mean_cos = float(p.cos.mean())
    gap = float(np.linalg.norm((p.sum_image - p.sum_text) / n))
    align = float((p.dist * p.dist).mean())
    # raw² = alignment and distribution² = raw² − centroid² (gap_decomposition's identity), from the same pass;
    # where the subtraction would cancel (a distribution gap below 1 % of the raw gap) its own exact pass instead
    if align - gap * gap > 1e-4 * align:
        raw, dist_gap = math.sqrt(align), math.sqrt(align - gap * gap)
    else:
        dec = gap_decomposition(img, txt)
        raw, dist_gap = float(dec.raw), float(dec.distribution)
    full = {
        ("centroid_gap", _PAIR): gap,
        ("paired_distance", _PAIR): float(p.dist.mean()),
        ("paired_cosine", _PAIR): mean_cos,
        ("alignment", _PAIR): align,
        ("raw_gap", _PAIR): raw,
        ("distribution_gap", _PAIR): dist_gap,
        ("relative_modality_gap", _PAIR): _rmg_from_parts(mean_cos, mpc["image"], mpc["text"]),
    }
    for mod, s in (("image", p.sum_image), ("text", p.sum_text)):
        full[("mean_resultant_length", mod)] = float(np.linalg.norm(s) / n)
        full[("mean_pairwise_cosine", mod)] = mpc[mod]
    del p
    # the subsample: its own seed stream, sorted so that a memory-mapped file is read front to back
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1] if seed is not None else None)
    idx = np.sort(rng.choice(n, size=m, replace=False))
    sub = gap_report(np.asarray(img[idx]), np.asarray(txt[idx]), n_boot, seed, ci=ci, **kw)
    scale = math.sqrt(m / n)
    estimates = []
    for e in sub.estimates:
        key = (e.metric, e.modality)
        if key in full:
            v = full[key]
            lo, hi = v + (e.ci_low - e.value) * scale, v + (e.ci_high - e.value) * scale
            method = (e.method if e.method == "none"
                      else f"{e.method} on a seeded subsample of {m} pairs, rescaled by sqrt({m}/{n}) (m-out-of-n)")
            estimates.append(Estimate(e.metric, e.modality, v, lo, hi, method, e.n_boot))
        else:
            estimates.append(Estimate(e.metric, e.modality, e.value, e.ci_low, e.ci_high,
                                      f"{e.method}; value and interval on a seeded subsample of {m} pairs", e.n_boot))
    params = dict(sub.params, max_pairs=m, subsample_pairs=m,
                  single_pass_metrics=sorted({k[0] for k in full}),
                  subsampled_metrics=sorted({e.metric for e in sub.estimates} - {k[0] for k in full}))
    return GapReport(n=n, d=d, n_boot=sub.n_boot, seed=sub.seed, ci_level=sub.ci_level, estimates=tuple(estimates),
                     params=params)
