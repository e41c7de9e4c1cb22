"""Post-hoc interventions on frozen embeddings: the λ-shift and friends (chapters 4, 6 and 7).

Scikit-learn style estimators, each with ``fit(image, text)`` learning
from the data it is given (the *training split*: nothing is learned in
``transform``, so test rows never leak into the intervention) and
``transform(image, text) -> (image', text')``:

- :class:`LambdaShift` (Restrepo 2026): move both modalities towards each
  other along the gap vector Δ = mean_i v̂_i − mean_i t̂_i by a fraction λ,
  then put the rows back on the unit sphere.
- :class:`MeanCentering`: subtract each modality's own mean (a common baseline
  that removes the gap *and* the cone).
- :class:`ModalityStandardization` (An et al. 2025, I0T_post): standardise each
  dimension of each modality with that modality's statistics, then re-normalise.
- :class:`OrthogonalShift` (Chowers 2026): translate one modality only along
  the part of Δ orthogonal to the span of the other modality. This keeps every
  image→text (or text→image) ranking, hence clean zero-shot accuracy, exactly.

All inputs go through :func:`gapkit._validation.as_paired` /
:func:`~gapkit._validation.as_matrix`; rows are L2-normalised before anything
else (the book's convention). Outputs are float arrays of at least float32
precision (float64 in, float64 out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import Interval, Options, Real, as_matrix, as_paired, check_param, check_params, l2_normalize, row_norms
from .geometry import gap_vector

__all__ = ["LambdaShift", "MeanCentering", "ModalityStandardization", "OrthogonalShift", "NotFittedError", "lambda_shift",
           "lambda_metrics", "gap_plane"]


class NotFittedError(ValueError, AttributeError):
    """Raised when ``transform`` is called before ``fit`` (same bases as scikit-learn's)."""


def _out_dtype(arr: np.ndarray) -> np.dtype:
    return np.result_type(arr.dtype, np.float32)


def _unit(x: Any, name: str) -> np.ndarray:
    arr = as_matrix(x, name=name, min_rows=1)
    return l2_normalize(arr, dtype=np.float64)


_LAMBDA_HINT = "This happens when a row equals the shift vector; use a smaller |λ| or renormalize=False."


def _renorm(x: np.ndarray, name: str, hint: str = _LAMBDA_HINT) -> np.ndarray:
    """Rows of ``x`` back on the unit sphere (gapkit's one normaliser); rows at the origin raise, with ``hint``."""
    tiny = row_norms(x) <= 1e-12
    if tiny.any():
        bad = np.flatnonzero(tiny)[:5].tolist()
        raise ValueError(
            f"{name}: {int(tiny.sum())} row(s) (e.g. {bad}) land on the origin after the shift and cannot be "
            f"re-normalised. {hint}"
        )
    return l2_normalize(x, dtype=x.dtype)


def lambda_shift(image: np.ndarray, text: np.ndarray, gap: np.ndarray, lam: float,
                 renormalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Apply the λ-shift with a given gap vector to already *unit-norm* rows (no validation).

    ``t' = normalise(t̂ + (λ/2)Δ)``, ``v' = normalise(v̂ − (λ/2)Δ)``. Low-level
    helper shared by :class:`LambdaShift` and :func:`gapkit.train.sweep_lambda`.
    """
    half = 0.5 * check_param("lam", lam, [Interval(Real, None, None)], owner="lambda_shift") * gap
    img = image - half
    txt = text + half
    if renormalize:
        img = _renorm(img, "image")
        txt = _renorm(txt, "text")
    return img, txt


class _Base:
    _fitted_attr = "gap_"
    _param_names: tuple[str, ...] = ()
    #: scikit-learn style declarative constraints, checked in fit and in every transform
    _parameter_constraints: dict[str, list[Any]] = {}

    def _validate_params(self) -> None:
        check_params(self._parameter_constraints, owner=type(self).__name__,
                     **{k: getattr(self, k) for k in self._parameter_constraints})

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call .fit(image_train, text_train) on the "
                "training split before .transform(...)."
            )
        self._validate_params()

    def _check_dim(self, arr: np.ndarray, name: str) -> None:
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name}: {arr.shape[1]} dimensions but this {type(self).__name__} was fitted on "
                f"{self.n_features_in_}; transform embeddings from the same model it was fitted on."
            )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        return {k: getattr(self, k) for k in self._param_names}

    def set_params(self, **params: Any) -> "_Base":
        for k, v in params.items():
            if k not in self._param_names:
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}; valid: {self._param_names}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._param_names)
        return f"{type(self).__name__}({args})"

    def fit_transform(self, image: Any, text: Any) -> tuple[np.ndarray, np.ndarray]:
        """``fit(image, text)`` then ``transform(image, text)`` on the same rows."""
        return self.fit(image, text).transform(image, text)

    def transform(self, image: Any, text: Any) -> tuple[np.ndarray, np.ndarray]:
        """Shift matched ``image`` and ``text`` rows; returns ``(image', text')``."""
        self._check_fitted()
        img, txt = as_paired(image, text, min_rows=1)
        return self.transform_image(img), self.transform_text(txt)


class LambdaShift(_Base):
    """The λ-shift of Restrepo et al. (2026) as a fit/transform estimator (chapters 4 and 6).

    On L2-normalised rows, with the gap vector Δ = mean_i v̂_i − mean_i t̂_i
    *learned in* :meth:`fit` (training split only)::

        t' = normalise(t̂ + (λ/2)·Δ)      v' = normalise(v̂ − (λ/2)·Δ)

    λ = 0 is the identity (on normalised rows); λ = 1 moves both fitted
    centroids to their midpoint *before* re-normalisation, so without
    re-normalisation the centroid gap on the fit data is exactly
    ``(1 − λ)‖Δ‖``; re-normalisation pulls the rows back onto the sphere and a
    small gap survives. λ < 0 widens the gap.

    Parameters
    ----------
    lam : float
        Fraction of the gap to close (any real number).
    renormalize : bool
        Put shifted rows back on the unit sphere (the paper's setting).

    Attributes
    ----------
    gap_ : numpy.ndarray, shape (d,)
        Δ fitted on the data passed to :meth:`fit`.
    gap_norm_ : float
        ‖Δ‖₂, the centroid gap of the fit data.

    Examples
    --------
    >>> shift = LambdaShift(lam=1.0).fit(img_train, txt_train)   # doctest: +SKIP
    >>> img_te, txt_te = shift.transform(img_test, txt_test)      # doctest: +SKIP
    >>> prompts = shift.transform_text(class_prompt_embeddings)   # doctest: +SKIP
    """

    _param_names = ("lam", "renormalize")
    _parameter_constraints = {"lam": [Interval(Real, None, None)], "renormalize": ["boolean"]}

    def __init__(self, lam: float = 1.0, renormalize: bool = True) -> None:
        self.lam = lam
        self.renormalize = renormalize

    def fit(self, image: Any, text: Any) -> "LambdaShift":
        """Learn Δ from matched ``image``/``text`` rows (pass the training split only)."""
        self._validate_params()
        self.gap_ = gap_vector(image, text)
        self.gap_norm_ = float(np.linalg.norm(self.gap_))
        self.n_features_in_ = self.gap_.shape[0]
        return self

    def transform_image(self, image: Any) -> np.ndarray:
        """Shift image rows alone: ``normalise(v̂ − (λ/2)Δ)`` (unpaired use)."""
        self._check_fitted()
        arr = as_matrix(image, name="image", min_rows=1)
        self._check_dim(arr, "image")
        out = l2_normalize(arr, dtype=np.float64) - 0.5 * float(self.lam) * self.gap_
        if self.renormalize:
            out = _renorm(out, "image")
        return out.astype(_out_dtype(arr), copy=False)

    def transform_text(self, text: Any) -> np.ndarray:
        """Shift text rows alone: ``normalise(t̂ + (λ/2)Δ)`` (e.g. zero-shot class prompts)."""
        self._check_fitted()
        arr = as_matrix(text, name="text", min_rows=1)
        self._check_dim(arr, "text")
        out = l2_normalize(arr, dtype=np.float64) + 0.5 * float(self.lam) * self.gap_
        if self.renormalize:
            out = _renorm(out, "text")
        return out.astype(_out_dtype(arr), copy=False)


class MeanCentering(_Base):
    """Per-modality mean centring (a baseline for chapters 4 and 6).

    ``v' = normalise(v̂ − mean_i v̂_i)`` and ``t' = normalise(t̂ − mean_i t̂_i)``,
    each mean learned in :meth:`fit`. Removes the gap (both fitted centroids go
    to the origin) and weakens the cone at the same time.

    Attributes
    ----------
    image_mean_, text_mean_ : numpy.ndarray, shape (d,)
        Means of the L2-normalised fit rows.
    gap_ : numpy.ndarray
        ``image_mean_ − text_mean_`` (Δ of the fit data).
    """

    _param_names = ("renormalize",)
    _parameter_constraints = {"renormalize": ["boolean"]}

    def __init__(self, renormalize: bool = True) -> None:
        self.renormalize = renormalize

    def fit(self, image: Any, text: Any) -> "MeanCentering":
        """Learn each modality's mean from matched training rows."""
        self._validate_params()
        img, txt = as_paired(image, text)
        self.image_mean_ = l2_normalize(img, dtype=np.float64).mean(axis=0)
        self.text_mean_ = l2_normalize(txt, dtype=np.float64).mean(axis=0)
        self.gap_ = self.image_mean_ - self.text_mean_
        self.n_features_in_ = img.shape[1]
        return self

    def _apply(self, x: Any, mean: np.ndarray, name: str) -> np.ndarray:
        self._check_fitted()
        arr = as_matrix(x, name=name, min_rows=1)
        self._check_dim(arr, name)
        out = l2_normalize(arr, dtype=np.float64) - mean
        if self.renormalize:
            out = _renorm(out, name, "This happens when a row equals the fitted mean of its modality (e.g. when "
                                     "every fit row was the same); fit on more varied rows or use renormalize=False.")
        return out.astype(_out_dtype(arr), copy=False)

    def transform_image(self, image: Any) -> np.ndarray:
        """Centre and re-normalise image rows."""
        self._check_fitted()
        return self._apply(image, self.image_mean_, "image")

    def transform_text(self, text: Any) -> np.ndarray:
        """Centre and re-normalise text rows."""
        self._check_fitted()
        return self._apply(text, self.text_mean_, "text")


class ModalityStandardization(_Base):
    """Per-modality, per-dimension standardisation, then re-normalisation (An et al. 2025, I0T_post).

    Each modality's unit rows are standardised with that modality's own training statistics,
    learned in :meth:`fit`, and put back on the sphere::

        v' = normalise((v̂ − μ_v) / σ_v)      t' = normalise((t̂ − μ_t) / σ_t)

    with ``μ``, ``σ`` the per-dimension mean and (population) standard deviation of the fit
    rows. Like :class:`MeanCentering` it moves both centroids to the origin; unlike it, it also
    rescales every dimension to unit variance in each modality, so it reshapes the clouds as
    well as moving them. With ``renormalize=False`` the transformed *training* columns have mean
    0 and variance 1 exactly; held-out rows are standardised with the training statistics
    (no leakage), so theirs are only close to that.

    A dimension that is constant on the fit rows (``σ`` at most ``max(n, d)·eps`` times the
    largest ``σ`` of the modality, rounding noise) cannot be scaled to unit variance: its scale
    is set to 1, so it is centred only (``constant_dims_`` counts these per modality).

    Attributes
    ----------
    image_mean_, text_mean_ : numpy.ndarray, shape (d,)
        Per-dimension means of the L2-normalised fit rows.
    image_scale_, text_scale_ : numpy.ndarray, shape (d,)
        Per-dimension standard deviations (1 where constant).
    constant_dims_ : dict
        ``{"image": k, "text": k}``, dimensions left unscaled.
    gap_ : numpy.ndarray
        ``image_mean_ − text_mean_`` (Δ of the fit data).

    Chapter "What the centroid misses" and chapter 6.
    """

    _param_names = ("renormalize",)
    _parameter_constraints = {"renormalize": ["boolean"]}

    def __init__(self, renormalize: bool = True) -> None:
        self.renormalize = renormalize

    def fit(self, image: Any, text: Any) -> "ModalityStandardization":
        """Learn each modality's per-dimension mean and standard deviation from matched training rows."""
        self._validate_params()
        img, txt = as_paired(image, text)
        self.constant_dims_ = {}
        for name, arr in (("image", img), ("text", txt)):
            unit = l2_normalize(arr, dtype=np.float64)
            mean, std = unit.mean(axis=0), unit.std(axis=0)
            constant = std <= max(unit.shape) * np.finfo(np.float64).eps * max(float(std.max()), np.finfo(np.float64).tiny)
            std[constant] = 1.0
            setattr(self, f"{name}_mean_", mean)
            setattr(self, f"{name}_scale_", std)
            self.constant_dims_[name] = int(constant.sum())
        self.gap_ = self.image_mean_ - self.text_mean_
        self.n_features_in_ = img.shape[1]
        return self

    def _apply(self, x: Any, name: str) -> np.ndarray:
        self._check_fitted()
        arr = as_matrix(x, name=name, min_rows=1)
        self._check_dim(arr, name)
        out = (l2_normalize(arr, dtype=np.float64) - getattr(self, f"{name}_mean_")) / getattr(self, f"{name}_scale_")
        if self.renormalize:
            out = _renorm(out, name, "This happens when a row equals the fitted mean of its modality (e.g. when "
                                     "every fit row was the same); fit on more varied rows or use renormalize=False.")
        return out.astype(_out_dtype(arr), copy=False)

    def transform_image(self, image: Any) -> np.ndarray:
        """Standardise image rows with the image statistics, then re-normalise."""
        return self._apply(image, "image")

    def transform_text(self, text: Any) -> np.ndarray:
        """Standardise text rows with the text statistics, then re-normalise."""
        return self._apply(text, "text")


class OrthogonalShift(_Base):
    """Close the gap along the direction orthogonal to the fixed modality (Chowers 2026; chapter 7).

    With Δ = mean_i v̂_i − mean_i t̂_i fitted on training pairs, let ``P`` be the
    orthogonal projector onto the span of the *fixed* modality's normalised
    rows and ``Δ_⊥ = Δ − PΔ``. Only the *moving* modality is translated::

        moving="image":  v' = normalise(v̂ − λ·Δ_⊥),   t' = t̂
        moving="text":   t' = normalise(t̂ + λ·Δ_⊥),   v' = v̂

    **Why rankings survive.** For any fixed row ``f`` in the span,
    ``⟨v̂ − λΔ_⊥, f⟩ = ⟨v̂, f⟩`` because ``Δ_⊥ ⟂ f``. So before
    re-normalisation every inner product between a moving item and a fixed item
    is unchanged, and every nearest-neighbour ranking in either direction is
    preserved. Re-normalisation divides each moving row by its own positive norm,
    so the ranking of fixed items *for a given moving item* (e.g. the zero-shot
    class of an image, or image→text retrieval) is still exactly preserved; the
    ranking of moving items for a given fixed item (text→image retrieval) may
    change after re-normalisation.

    The guarantee is exact for fixed vectors inside the fitted span. Fit with
    ``fixed_extra=`` holding e.g. the zero-shot class-prompt embeddings so
    that they are in the span too: their directions are *always* kept exactly
    in the basis (it starts from an orthonormal basis of ``fixed_extra``), so
    no zero-shot prediction against them can change, whatever ``energy`` is.
    With ``energy < 1`` only the rest of the span (the fixed training rows,
    after removing their components along ``fixed_extra``) is truncated to its
    top principal directions, and the invariance becomes approximate for other
    fixed vectors; if the fixed rows span the whole space (``n ≥ d``
    full-rank, ``energy=None``) then ``Δ_⊥ = 0`` and the shift does nothing
    (``gap_perp_norm_`` says so).

    Parameters
    ----------
    lam : float
        Fraction of ``Δ_⊥`` to remove (1 = all of it).
    moving : {"image", "text"}
        The modality that is translated; the other one is fixed.
    energy : float or None
        ``None`` (default): the full numerical span of the fixed rows (singular
        values above ``tol · σ_max``). A float in (0, 1]: the ``fixed_extra``
        directions plus the fewest uncentred principal directions of the
        remaining fixed rows holding that fraction of their squared singular
        values (e.g. ``0.999``), an approximate span for real, full-rank data.
    tol : float in [0, 1) or None
        Relative singular-value cut-off (for ``energy=None``, and for the rank of
        ``fixed_extra``); default ``max(n, d) · eps`` of the fixed rows' dtype
        (float32 inputs get float32's epsilon), as :func:`numpy.linalg.matrix_rank` does.
    renormalize : bool
        Put the moving rows back on the unit sphere.

    Attributes
    ----------
    gap_ : Δ of the fit pairs;  basis_ : (k, d) orthonormal rows spanning the
    fixed modality;  rank_ : k;  gap_perp_ : Δ_⊥;  gap_perp_norm_ : ‖Δ_⊥‖.
    """

    _param_names = ("lam", "moving", "energy", "tol", "renormalize")
    _parameter_constraints = {
        "lam": [Interval(Real, None, None)],
        "moving": [Options("image", "text")],
        "energy": [None, Interval(Real, 0, 1, closed="right")],
        "tol": [None, Interval(Real, 0, 1, closed="left")],
        "renormalize": ["boolean"],
    }

    def __init__(self, lam: float = 1.0, moving: str = "image", energy: float | None = None,
                 tol: float | None = None, renormalize: bool = True) -> None:
        self.lam = lam
        self.moving = moving
        self.energy = energy
        self.tol = tol
        self.renormalize = renormalize

    def fit(self, image: Any, text: Any, fixed_extra: Any = None) -> "OrthogonalShift":
        """Learn Δ from matched training rows and the fixed modality's span.

        Parameters
        ----------
        image, text : array-like, shape (n, d)
            Matched training pairs.
        fixed_extra : array-like, shape (m, d), optional
            More rows of the fixed modality whose span must be respected (e.g. the
            class-prompt text embeddings used for zero-shot classification).
        """
        self._validate_params()
        img, txt = as_paired(image, text)
        self.gap_ = gap_vector(img, txt)
        fixed = l2_normalize(txt if self.moving == "image" else img, dtype=np.float64)
        inputs = [txt if self.moving == "image" else img]
        d = fixed.shape[1]
        keep = np.zeros((0, d))
        if fixed_extra is not None:
            extra = as_matrix(fixed_extra, name="fixed_extra", min_rows=1)
            inputs.append(extra)
            if extra.shape[1] != d:
                raise ValueError(f"fixed_extra has {extra.shape[1]} dimensions, the pairs have {d}.")
            # an exact orthonormal basis of the extra directions: always kept, whatever `energy` is
            unit = l2_normalize(extra, dtype=np.float64)
            _, se, vte = np.linalg.svd(unit, full_matrices=False)
            keep = vte[: int(np.sum(se > self._tol(unit, inputs) * se[0]))]
            fixed = fixed - (fixed @ keep.T) @ keep
        _, s, vt = np.linalg.svd(fixed, full_matrices=False)
        # singular values are judged against the whole fixed set's scale (the extra directions included)
        ref = float(np.hypot(s[0], se[0])) if keep.shape[0] else float(s[0])
        tol = self._tol(fixed, inputs)
        if s[0] <= tol * ref:  # the fixed rows lie inside span(fixed_extra): nothing else to keep
            k = 0
        elif self.energy is None:
            k = int(np.sum(s > tol * ref))
        else:
            share = np.cumsum(s**2) / np.sum(s**2)
            k = min(int(np.searchsorted(share, float(self.energy) - 1e-12) + 1), len(s))
        basis = np.vstack([keep, vt[:k]])
        if keep.shape[0] and k:  # re-orthonormalise the seam (rounding), keeping span(fixed_extra) first
            basis = np.linalg.qr(basis.T)[0].T
        self.rank_ = basis.shape[0]
        self.basis_ = basis
        self.gap_perp_ = self.gap_ - self.basis_.T @ (self.basis_ @ self.gap_)
        self.gap_perp_norm_ = float(np.linalg.norm(self.gap_perp_))
        self.n_features_in_ = img.shape[1]
        return self

    def _tol(self, rows: np.ndarray, inputs: list[np.ndarray]) -> float:
        """Relative singular-value cut-off: ``tol``, else ``max(n, d)·eps`` of the coarsest input dtype."""
        if self.tol is not None:
            return float(self.tol)
        # the coarsest input precision sets the noise floor (float32 rounding is not a direction)
        eps = max(np.finfo(a.dtype if a.dtype.kind == "f" else np.float64).eps for a in inputs)
        return max(rows.shape) * eps

    def _move(self, x: Any, name: str, sign: float) -> np.ndarray:
        self._check_fitted()
        arr = as_matrix(x, name=name, min_rows=1)
        self._check_dim(arr, name)
        out = l2_normalize(arr, dtype=np.float64)
        if self.moving == name:
            out = out + sign * float(self.lam) * self.gap_perp_
            if self.renormalize:
                out = _renorm(out, name)
        return out.astype(_out_dtype(arr), copy=False)

    def transform_image(self, image: Any) -> np.ndarray:
        """Image rows: translated by ``−λΔ_⊥`` if images move, else only normalised."""
        return self._move(image, "image", -1.0)

    def transform_text(self, text: Any) -> np.ndarray:
        """Text rows: translated by ``+λΔ_⊥`` if text moves, else only normalised."""
        return self._move(text, "text", +1.0)


def lambda_metrics(image_fit: Any, text_fit: Any, image_eval: Any, text_eval: Any, lambdas: Any, *,
                   seed: int | None = 0, retrieval: bool = False) -> Any:
    """Every gap metric of chapter 3 at each λ: Δ fitted on one split, measured on another. Chapter 4.

    For each λ, :class:`LambdaShift` is fitted on ``(image_fit, text_fit)`` and applied to both splits.

    Parameters
    ----------
    image_fit, text_fit : array_like, shape (n_fit, d)
        The pairs Δ is learned from (the training split).
    image_eval, text_eval : array_like, shape (n_eval, d)
        The held-out pairs every ``", test"`` metric is measured on.
    lambdas : sequence of float
        The λ values (rows of the result, in this order).
    seed : int or None
        Seeds :func:`gapkit.geometry.linear_separability`.
    retrieval : bool
        Add image→text and text→image top-1 retrieval among the held-out pairs
        (:func:`gapkit.geometry.retrieval_accuracy`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``λ``, with columns ``gap, test``, ``gap, train``, ``gap before
        re-normalisation, train`` (the plain means' distance, exactly ``|1 − λ|·‖Δ‖``), ``paired
        cosine``, ``RMG``, ``separability``, ``R image``, ``R text`` (held-out), and with
        ``retrieval`` also ``image→text top-1`` and ``text→image top-1``.
    """
    import pandas as pd

    from . import geometry

    img_fit, txt_fit = as_paired(image_fit, text_fit)
    img_ev, txt_ev = as_paired(image_eval, text_eval)
    lams = [check_param(f"lambdas[{i}]", lam, [Interval(Real, None, None)], owner="lambda_metrics")
            for i, lam in enumerate(np.atleast_1d(np.asarray(lambdas, dtype=object)).tolist())]
    if not lams:
        raise ValueError("lambda_metrics: lambdas is empty; pass λ values, e.g. np.linspace(-0.5, 1.5, 21).")
    if retrieval:
        from .geometry import retrieval_accuracy
    rows = []
    for lam in lams:
        shift = LambdaShift(lam).fit(img_fit, txt_fit)
        v, t = shift.transform(img_ev, txt_ev)
        raw = LambdaShift(lam, renormalize=False).fit(img_fit, txt_fit)
        raw_v, raw_t = raw.transform(img_fit, txt_fit)
        row = {
            "λ": float(lam),
            "gap, test": geometry.centroid_gap(v, t),
            "gap, train": geometry.centroid_gap(*shift.transform(img_fit, txt_fit)),
            "gap before re-normalisation, train": float(np.linalg.norm(raw_v.mean(axis=0, dtype=np.float64)
                                                                       - raw_t.mean(axis=0, dtype=np.float64))),
            "paired cosine": geometry.paired_cosine(v, t),
            "RMG": geometry.relative_modality_gap(v, t),
            "separability": geometry.linear_separability(v, t, seed=seed),
            "R image": geometry.mean_resultant_length(v),
            "R text": geometry.mean_resultant_length(t),
        }
        if retrieval:
            row["image→text top-1"] = retrieval_accuracy(v, t)
            row["text→image top-1"] = retrieval_accuracy(t, v)
        rows.append(row)
    return pd.DataFrame(rows).set_index("λ")


def gap_plane(gap: Any, image: Any, text: Any) -> np.ndarray:
    """The plane chapter 4 draws the λ-shift in: the gap direction and the main spread orthogonal to it.

    Parameters
    ----------
    gap : array_like, shape (d,)
        Δ (for example ``LambdaShift(...).fit(...).gap_``): the first axis is ``Δ/‖Δ‖``.
    image, text : array_like, shape (n, d)
        The unshifted pairs whose spread sets the second axis: the first principal direction of
        both modalities' unit rows together, after removing their component along Δ.

    Returns
    -------
    numpy.ndarray, shape (d, 2)
        Orthonormal columns; ``x @ basis`` gives a row's coordinates in the plane. Because the
        plane is fixed, every λ is drawn on the same axes (the explorable figure of chapter 4).
    """
    g = np.asarray(gap, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(g))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("gap_plane: the gap vector is zero or not finite; pass Δ of two modalities that differ.")
    e1 = g / norm
    img, txt = as_paired(image, text)
    if img.shape[1] != g.shape[0]:
        raise ValueError(f"gap_plane: Δ has {g.shape[0]} entries but the rows have {img.shape[1]}; pass Δ of these "
                         "embeddings.")
    return plane_through(e1, np.vstack([l2_normalize(img, dtype=np.float64), l2_normalize(txt, dtype=np.float64)]))


def plane_through(e1: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The plane of the unit direction ``e1`` and the main spread of ``rows`` orthogonal to it, as ``(d, 2)``.

    The second axis is the first principal direction of ``rows`` once their component along ``e1`` is
    removed. :func:`gap_plane` (chapter 4) and the explorable figures of chapters 1 and 2 draw in it.
    """
    rest = rows - np.outer(rows @ e1, e1)
    e2 = np.linalg.svd(rest - rest.mean(axis=0), full_matrices=False)[2][0]
    e2 = e2 - (e2 @ e1) * e1
    return np.vstack([e1, e2 / np.linalg.norm(e2)]).T
