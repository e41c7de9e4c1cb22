"""The result of a λ sweep: tidy tables and their summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._params import METRICS


@dataclass
class SweepResult:
    """Result of :func:`sweep_lambda` (chapter 6).

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy test metrics, one row per (λ, seed, metric): columns ``lam``,
        ``seed``, ``metric`` (``accuracy``, ``f1_macro``, ``auc``), ``value``.
    training : pandas.DataFrame
        Per (λ, seed): ``epochs`` run, ``best_epoch``, ``best_val_loss``.
    gaps : pandas.DataFrame
        Per (λ, seed), geometry of the *shifted training* embeddings:
        ``centroid_gap`` (rows on the unit sphere), ``image_R``, ``text_R``
        (mean resultant lengths). For twin-axis plots use :meth:`gap_by_lambda`.
    deltas : dict
        seed → the gap vector Δ used for that seed (train-only unless transductive).
    splits : dict
        seed → ``(train_idx, test_idx)`` of the outer split.
    """

    table: pd.DataFrame
    training: pd.DataFrame
    gaps: pd.DataFrame
    lams: np.ndarray
    seeds: tuple[int, ...]
    head: str
    task: str
    transductive: bool
    renormalize: bool
    device: str
    batched: bool
    elapsed_s: float
    deltas: dict[int, np.ndarray] = field(repr=False, default_factory=dict)
    splits: dict[int, tuple[np.ndarray, np.ndarray]] = field(repr=False, default_factory=dict)

    def summary(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean ± std over seeds per λ (std with ddof=1): index ``lam``, columns ``(metric, "mean"|"std")``."""
        tab = self.table if metrics is None else self.table[self.table.metric.isin(list(metrics))]
        out = tab.groupby(["lam", "metric"])["value"].agg(["mean", "std"]).unstack("metric")
        out = out.swaplevel(0, 1, axis=1)
        order = [m for m in METRICS if m in out.columns.get_level_values(0)]
        return out.reindex(columns=pd.MultiIndex.from_product([order, ["mean", "std"]]))

    def best_lambda(self, metric: str = "auc") -> float:
        """λ with the highest mean ``metric`` over seeds (the smallest such λ on ties)."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        means = self.table[self.table.metric == metric].groupby("lam")["value"].mean()
        if means.isna().all():
            raise ValueError(f"metric {metric!r} is NaN for every λ (e.g. a test split with one class).")
        return float(means.idxmax())

    def per_seed(self, metric: str = "auc") -> pd.DataFrame:
        """``metric`` per seed (rows) and λ (columns): every column shares the seeds' splits."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        tab = self.table[self.table.metric == metric]
        return tab.pivot(index="seed", columns="lam", values="value").reindex(index=list(self.seeds))

    def paired_gain(self, lam: float, metric: str = "auc", baseline: float = 0.0, **kwargs: Any) -> Any:
        """``metric`` at ``lam`` against ``baseline`` (λ = 0 by default), seed by seed.

        The heads at both λ share each seed's split and initialisation, so their results pair up:
        :func:`gapkit.stats.paired_comparison` of the per-seed values (``kwargs`` are passed on).
        """
        from ..stats import paired_comparison

        table = self.per_seed(metric)
        for name, value in (("lam", lam), ("baseline", baseline)):
            if float(value) not in table.columns:
                raise ValueError(f"{name}={value!r} is not on this sweep's λ grid {table.columns.tolist()}")
        return paired_comparison(table[float(baseline)].to_numpy(), table[float(lam)].to_numpy(), **kwargs)

    def gap_by_lambda(self) -> pd.DataFrame:
        """Mean over seeds of the train-split geometry per λ (index ``lam``)."""
        return self.gaps.groupby("lam")[["centroid_gap", "image_R", "text_R"]].mean()

    def __repr__(self) -> str:
        return (f"SweepResult(task={self.task!r}, head={self.head!r}, {len(self.lams)} λ × {len(self.seeds)} seeds, "
                f"transductive={self.transductive}, device={self.device!r}, batched={self.batched}, "
                f"{self.elapsed_s:.1f} s)")
