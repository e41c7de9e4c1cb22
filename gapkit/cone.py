"""The cone effect: random MLPs, randomly initialised towers and cone axes (chapter 1).

Liang et al. (2022) observe that the embeddings of a *randomly initialised*
network already occupy a narrow cone of the unit sphere, that the cone narrows
with depth when the network has a nonlinearity, and that different random
initialisations produce different cones, so two independently initialised
towers (image and text) start training with a modality gap.

This module reproduces their random-MLP setting and collects the small steps
chapter 1 uses on real towers:

- :func:`random_mlp` builds a :class:`RandomMLP` with weights *and* biases drawn
  from ``N(0, 1/width)`` (standard deviation ``1/sqrt(width)``); the network is
  ``Linear, act, Linear, act, ..., Linear``, so the embedding is the output of
  a linear layer, as in a real encoder's projection head;
- :func:`gaussian_inputs` draws isotropic standard normal inputs;
- :func:`mlp_cone` sweeps depth, nonlinearity and seed and returns a tidy
  :class:`pandas.DataFrame` of mean pairwise cosine and cone strength ``R``;
- :func:`cone_axis`, :func:`axis_cosines` and :func:`mlp_axis_cosines` measure
  the direction of a cone and compare the cones of different seeds;
- :func:`embed_pairs`, :func:`cone_summary`, :func:`pairwise_cosines` and
  :func:`joint_pca` embed a paired dataset with one encoder, tabulate ``R`` per
  modality and seed, sample cosines for histograms, and project several sets
  into one 2-D picture.

Conventions follow :mod:`gapkit.geometry`: rows are L2-normalised before any
metric; ``R = ‖mean_i x̂_i‖₂``; the mean cosine over pairs of distinct rows is
computed in O(n·d) from ``(n R² − 1)/(n − 1)``.

Everything here is numpy; :meth:`RandomMLP.to_torch` gives the identical
network as a ``torch.nn.Sequential`` for readers who want to train it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

import numpy as np

from ._validation import SEED, Integral, Interval, Real, as_matrix, check_param, l2_normalize, validate_params
from .geometry import mean_pairwise_cosine, mean_resultant_length

__all__ = [
    "ACTIVATIONS",
    "RandomMLP",
    "random_mlp",
    "gaussian_inputs",
    "mlp_cone",
    "cone_axis",
    "ConeCap",
    "cone_cap",
    "axis_cosines",
    "mlp_axis_cosines",
    "embed_pairs",
    "cone_summary",
    "pairwise_cosines",
    "joint_pca",
]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # numerically stable in float32 and float64: tanh form never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * x))


#: The nonlinearities :func:`random_mlp` knows, by name (``None`` means ``"linear"``).
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "linear": lambda x: x,
}


def _activation_name(activation: str | None) -> str:
    name = "linear" if activation is None else str(activation).lower()
    if name == "none":
        name = "linear"
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)} or None.")
    return name


@dataclass(frozen=True)
class RandomMLP:
    """A randomly initialised multilayer perceptron (Liang 2022's setting). Chapter 1.

    The forward pass is ``h_0 = x``, ``z_l = W_l h_{l-1} + b_l`` and
    ``h_l = act(z_l)``; the output of a depth-``L`` network is ``z_L`` (the last
    layer is linear, like an encoder's projection head). Because the layers are
    drawn in order from one seeded generator, the first ``l`` layers of a deep
    network *are* the depth-``l`` network with the same seed, so
    :meth:`layer_outputs` gives every depth in one pass.

    Attributes
    ----------
    weights : tuple of np.ndarray
        ``W_l`` of shape ``(out, in)``.
    biases : tuple of np.ndarray
        ``b_l`` of shape ``(out,)``.
    activation : str
        One of :data:`ACTIVATIONS`.
    seed : int
        The seed the parameters were drawn with.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: str = "relu"
    seed: int = 0

    @property
    def depth(self) -> int:
        """Number of linear layers."""
        return len(self.weights)

    @property
    def width(self) -> int:
        """Units per hidden layer (the output dimension too, unless built with ``out_dim``)."""
        return int(self.weights[0].shape[0])

    @property
    def out_dim(self) -> int:
        """Output dimension (of the last, linear layer)."""
        return int(self.weights[-1].shape[0])

    @property
    def in_dim(self) -> int:
        """Input dimension."""
        return int(self.weights[0].shape[1])

    def layer_outputs(self, x: Any) -> list[np.ndarray]:
        """Outputs of the depth-1, 2, ..., ``depth`` truncations of this network on ``x``.

        Parameters
        ----------
        x : array_like, shape (n, in_dim)

        Returns
        -------
        list of np.ndarray
            Entry ``l - 1`` is ``z_l`` of shape ``(n, width)``: the embedding a
            depth-``l`` network with this seed produces.
        """
        h = np.asarray(x, dtype=self.weights[0].dtype)
        if h.ndim != 2 or h.shape[1] != self.in_dim:
            raise ValueError(f"x: expected shape (n, {self.in_dim}), got {h.shape}.")
        act = ACTIVATIONS[self.activation]
        outs = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = h @ w.T + b
            outs.append(z)
            if i + 1 < self.depth:
                h = act(z)
        return outs

    def __call__(self, x: Any) -> np.ndarray:
        """The network's output ``z_depth`` on ``x`` (shape ``(n, out_dim)``)."""
        return self.layer_outputs(x)[-1]

    def with_activation(self, activation: str | None) -> "RandomMLP":
        """The same weights and biases with another nonlinearity (a paired comparison)."""
        return replace(self, activation=_activation_name(activation))

    def to_torch(self) -> Any:
        """The identical network as a ``torch.nn.Sequential`` (float32, CPU).

        Chapter 1's exercises; torch is imported only here.
        """
        from ._extras import import_torch

        torch = import_torch("RandomMLP.to_torch")
        from torch import nn

        acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}
        layers: list[Any] = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float32)))
                lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float32)))
            layers.append(lin)
            if i + 1 < self.depth:
                layers.append(acts[self.activation]())
        return nn.Sequential(*layers)


_POS_INT = [Interval(Integral, 1, None, closed="left")]


@validate_params({"depth": _POS_INT, "width": _POS_INT, "seed": [SEED], "in_dim": [None] + _POS_INT})
def random_mlp(
    depth: int,
    width: int = 512,
    activation: str | None = "relu",
    seed: int = 0,
    in_dim: int | None = None,
    *,
    out_dim: int | None = None,
    dtype: Any = np.float32,
) -> RandomMLP:
    """A random MLP with weights and biases ~ ``N(0, 1/width)``, Liang 2022's setting. Chapter 1.

    Parameters
    ----------
    depth : int
        Number of linear layers (≥ 1). ``depth=1`` is a single affine map.
    width : int
        Units per layer (Liang: 512). Every weight and bias entry has standard
        deviation ``1/sqrt(width)``.
    activation : {"relu", "sigmoid", "tanh", "linear"} or None
        Applied after every layer but the last. ``None`` and ``"linear"`` give an
        affine network (no nonlinearity).
    seed : int
        Seed of :func:`numpy.random.default_rng`; layers are drawn in order, so
        the first ``l`` layers do not depend on ``depth``.
    in_dim : int, optional
        Input dimension (default ``width``).
    out_dim : int, optional
        Output dimension of the last (linear) layer, the projection head (default ``width``).
        Its entries keep the standard deviation ``1/sqrt(width)``; chapter 1 uses ``out_dim=3``
        to draw two towers' cones on the ordinary sphere.
    dtype : numpy dtype
        Parameter dtype (float32 by default).

    Returns
    -------
    RandomMLP
    """
    depth, width = int(depth), int(width)
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}.")
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}.")
    in_dim = width if in_dim is None else int(in_dim)
    out_dim = width if out_dim is None else int(out_dim)
    if in_dim < 1 or out_dim < 1:
        raise ValueError(f"in_dim and out_dim must be at least 1, got {in_dim} and {out_dim}.")
    name = _activation_name(activation)
    rng = np.random.default_rng(seed)
    std = 1.0 / np.sqrt(width)
    weights, biases = [], []
    fan_in = in_dim
    for layer in range(depth):
        units = out_dim if layer == depth - 1 else width
        weights.append((rng.standard_normal((units, fan_in)) * std).astype(dtype))
        biases.append((rng.standard_normal(units) * std).astype(dtype))
        fan_in = width
    return RandomMLP(tuple(weights), tuple(biases), activation=name, seed=int(seed))


@validate_params({"n": _POS_INT, "dim": _POS_INT, "seed": [SEED]})
def gaussian_inputs(n: int, dim: int = 512, seed: int = 0, *, dtype: Any = np.float32) -> np.ndarray:
    """``n`` isotropic standard normal inputs ``(n, dim)``: no cone to begin with. Chapter 1.

    Their mean pairwise cosine is 0 in expectation (the mean direction of an
    isotropic zero-mean distribution is undefined), so any cone measured after a
    network is the network's doing.
    """
    return np.random.default_rng(seed).standard_normal((int(n), int(dim))).astype(dtype)


def mlp_cone(
    x: Any,
    *,
    depths: Iterable[int] = range(1, 11),
    activations: Sequence[str | None] = ("relu", "sigmoid", "tanh", "linear"),
    seeds: Sequence[int] = (0, 1, 2),
    width: int = 512,
) -> Any:
    """Mean pairwise cosine and cone strength ``R`` of random MLP outputs by depth, nonlinearity and seed.

    For every seed one set of weights is drawn (the deepest network needed) and
    reused for every nonlinearity, so the curves differ *only* in the
    nonlinearity. Chapter 1's first figure.

    Parameters
    ----------
    x : array_like, shape (n, in_dim)
        Inputs, e.g. :func:`gaussian_inputs`.
    depths : iterable of int
        Depths (numbers of linear layers) to report.
    activations : sequence of str or None
        Nonlinearities (see :data:`ACTIVATIONS`; ``None`` is reported as ``"linear"``).
    seeds : sequence of int
        One random network per seed.
    width : int
        Units per layer.

    Returns
    -------
    pandas.DataFrame
        One row per (activation, seed, depth) with columns ``activation``,
        ``seed``, ``depth``, ``mean_cosine`` (mean over pairs of distinct rows,
        O(n·d) via :func:`gapkit.geometry.mean_pairwise_cosine`), ``R``
        (:func:`gapkit.geometry.mean_resultant_length`), ``n`` and ``width``.
    """
    import pandas as pd

    arr = as_matrix(x, name="x")
    depths = sorted({check_param(f"depths[{i}]", d, _POS_INT, owner="mlp_cone") for i, d in enumerate(depths)})
    seeds = [check_param(f"seeds[{i}]", s, [SEED], owner="mlp_cone") for i, s in enumerate(seeds)]
    if not depths:
        raise ValueError("mlp_cone: depths is empty; pass integers >= 1, e.g. depths=range(1, 11).")
    names = [_activation_name(a) for a in activations]
    rows = []
    for seed in seeds:
        base = random_mlp(depths[-1], width=width, activation="linear", seed=int(seed), in_dim=arr.shape[1])
        for name in names:
            outs = base.with_activation(name).layer_outputs(arr)
            for d in depths:
                z = outs[d - 1]
                rows.append(
                    {
                        "activation": name,
                        "seed": int(seed),
                        "depth": d,
                        "mean_cosine": mean_pairwise_cosine(z),
                        "R": mean_resultant_length(z),
                        "n": arr.shape[0],
                        "width": width,
                    }
                )
    return pd.DataFrame(rows)


def cone_axis(x: Any) -> np.ndarray:
    """The cone's axis: the unit vector along ``mean_i x̂_i`` (rows L2-normalised first). Chapter 1.

    Raises
    ------
    ValueError
        If the normalised rows cancel exactly (no mean direction).
    """
    arr = as_matrix(x, name="x")
    m = l2_normalize(arr, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(m))
    if norm == 0.0:
        raise ValueError("x: the normalised rows sum to zero, so the cone has no axis.")
    return m / norm


@dataclass(frozen=True)
class ConeCap:
    """The spherical cap that holds a cone: its axis and angular radius (:func:`cone_cap`)."""

    axis: np.ndarray
    #: angle from the axis, in degrees, within which ``coverage`` of the rows lie
    radius_deg: float
    coverage: float

    def angle_to(self, other: "ConeCap") -> float:
        """Angle between the two axes, in degrees."""
        return float(np.degrees(np.arccos(np.clip(float(self.axis @ other.axis), -1.0, 1.0))))

    def overlaps(self, other: "ConeCap") -> bool:
        """Whether the two caps share points: the axes are closer than the two radii together."""
        return self.angle_to(other) < self.radius_deg + other.radius_deg


@validate_params({"coverage": [Interval(Real, 0, 1, closed="right")]})
def cone_cap(x: Any, coverage: float = 0.9) -> ConeCap:
    """The cap around the cone's axis that holds a fraction ``coverage`` of the rows. Chapter 1.

    The radius is the ``coverage`` quantile of the angles ``arccos(x̂_i · axis)`` between each
    normalised row and :func:`cone_axis`. Two caps that do not overlap (:meth:`ConeCap.overlaps`)
    hold two clouds with no point of either in the other's cap.

    Parameters
    ----------
    x : array-like, shape (n, d)
    coverage : float in (0, 1]
        1 gives the smallest cap around the axis that holds every row.

    Returns
    -------
    ConeCap
    """
    arr = as_matrix(x, name="x")
    axis = cone_axis(arr)
    cos = np.clip(l2_normalize(arr, dtype=np.float64) @ axis, -1.0, 1.0)
    radius = float(np.degrees(np.quantile(np.arccos(cos), coverage)))
    return ConeCap(axis=axis, radius_deg=radius, coverage=float(coverage))


def axis_cosines(embeddings: Mapping[Hashable, Any] | Sequence[Any]) -> Any:
    """Cosine between the cone axes of several embedding sets. Chapter 1.

    Parameters
    ----------
    embeddings : mapping or sequence of array_like
        Each ``(n_k, d)`` with a common ``d``; a mapping's keys label the result
        (e.g. ``("image", 0)``), a sequence is labelled ``0, 1, ...``.

    Returns
    -------
    pandas.DataFrame
        Symmetric ``k × k`` matrix of ``cos(axis_a, axis_b)`` with ones on the
        diagonal. Values near 1: the sets share a cone; near 0: orthogonal cones.
    """
    import pandas as pd

    items = list(embeddings.items()) if isinstance(embeddings, Mapping) else list(enumerate(embeddings))
    if len(items) < 2:
        raise ValueError("axis_cosines needs at least two embedding sets to compare.")
    axes = np.stack([cone_axis(v) for _, v in items])
    labels = [k for k, _ in items]
    index = pd.MultiIndex.from_tuples(labels) if all(isinstance(k, tuple) for k in labels) else labels
    return pd.DataFrame(axes @ axes.T, index=index, columns=index)


def mlp_axis_cosines(
    x: Any,
    *,
    depth: int,
    activation: str | None = "relu",
    seeds: Sequence[int] = (0, 1, 2),
    width: int = 512,
) -> Any:
    """Cosines between the cone axes of random MLPs that differ only in their seed. Chapter 1.

    Same inputs, same architecture, different random initialisations: an
    off-diagonal value well below 1 means different seeds put the *same* inputs
    into *different* cones, Liang 2022's explanation of the gap at initialisation.

    Returns
    -------
    pandas.DataFrame
        ``len(seeds) × len(seeds)`` matrix indexed by seed (see :func:`axis_cosines`).
    """
    arr = as_matrix(x, name="x")
    seeds = [check_param(f"seeds[{i}]", s, [SEED], owner="mlp_axis_cosines") for i, s in enumerate(seeds)]
    outs = {s: random_mlp(depth, width, activation, seed=s, in_dim=arr.shape[1])(arr) for s in seeds}
    return axis_cosines(outs)


def embed_pairs(encoder: Any, images: Any, texts: Sequence[str], *, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Embed matched images and texts with one encoder; repeated texts are embedded once. Chapter 1.

    Templated captions repeat (the digits set has at most 50 distinct ones), and
    an encoder maps equal strings to equal vectors, so each distinct text is
    embedded once and the rows are expanded back: the result is the same as
    ``encoder.embed_texts(texts)``, only faster.

    Returns
    -------
    image_emb, text_emb : np.ndarray
        Raw float32 ``(n, dim)`` arrays (not normalised), row ``i`` of each from pair ``i``.
    """
    texts = [str(t) for t in texts]
    if len(texts) != len(images):
        raise ValueError(f"{len(images)} images but {len(texts)} texts; row i of each must be a pair.")
    uniq, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    text_emb = encoder.embed_texts(list(uniq), progress=progress)[inverse.ravel()]
    image_emb = encoder.embed_images(images, progress=progress)
    return np.asarray(image_emb), np.asarray(text_emb)


def cone_summary(embeddings: Mapping[Hashable, Any], names: Sequence[str] = ("modality", "seed")) -> Any:
    """Cone strength ``R`` and mean pairwise cosine for each embedding set. Chapter 1.

    Parameters
    ----------
    embeddings : mapping
        Key -> ``(n, d)`` array; tuple keys (e.g. ``("image", 0)``) become columns named ``names``.
    names : sequence of str
        Column names for the parts of tuple keys (a scalar key uses ``names[0]``).

    Returns
    -------
    pandas.DataFrame
        Columns ``*names, n, R, mean_cosine``; ``mean_cosine = (n R² − 1)/(n − 1)``.
    """
    import pandas as pd

    rows = []
    for key, emb in embeddings.items():
        parts = key if isinstance(key, tuple) else (key,)
        if len(parts) > len(names):
            raise ValueError(f"key {key!r} has {len(parts)} parts but only {len(names)} names: {list(names)}.")
        arr = as_matrix(emb, name=str(key))
        row = dict(zip(names, parts))
        row.update(n=arr.shape[0], R=mean_resultant_length(arr), mean_cosine=mean_pairwise_cosine(arr))
        rows.append(row)
    return pd.DataFrame(rows)


@validate_params({"max_samples": [None, Interval(Integral, 2, None, closed="left")], "seed": [None, SEED],
                  "paired": ["boolean"]})
def pairwise_cosines(
    x: Any,
    y: Any | None = None,
    *,
    max_samples: int | None = 512,
    seed: int = 0,
    paired: bool = False,
) -> np.ndarray:
    """Cosines for a histogram: within one set (distinct pairs) or between two sets. Chapter 1.

    This one is genuinely pairwise (O(m²·d)), so at most ``max_samples`` rows
    (a seeded random subset) are used; summary statistics should use
    :func:`gapkit.geometry.mean_pairwise_cosine` instead, which is O(n·d).

    Parameters
    ----------
    x : array_like, shape (n, d)
    y : array_like, shape (m, d), optional
        Without ``y``: cosines between distinct rows of ``x`` (upper triangle).
        With ``y``: all cosines between rows of ``x`` and rows of ``y``, or, with
        ``paired=True`` (``n == m``), only ``cos(x_i, y_i)``.
    max_samples : int or None
        Subsample each set to at most this many rows (``None``: all rows).
    seed : int
        Seed of the subsample.

    Returns
    -------
    np.ndarray
        1-D float64 array of cosines.
    """
    a = l2_normalize(as_matrix(x, name="x"), dtype=np.float64)
    rng = np.random.default_rng(seed)

    def pick(n: int) -> np.ndarray:
        if max_samples is None or n <= max_samples:
            return np.arange(n)
        return np.sort(rng.choice(n, size=int(max_samples), replace=False))

    if y is None:
        a = a[pick(len(a))]
        iu = np.triu_indices(len(a), k=1)
        return (a @ a.T)[iu]
    b = l2_normalize(as_matrix(y, name="y"), dtype=np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x has {a.shape[1]} dimensions but y has {b.shape[1]}.")
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired=True needs as many rows in x ({len(a)}) as in y ({len(b)}).")
        idx = pick(len(a))
        return np.einsum("ij,ij->i", a[idx], b[idx])
    return (a[pick(len(a))] @ b[pick(len(b))].T).ravel()


@validate_params({"n_components": _POS_INT})
def joint_pca(embeddings: Mapping[Hashable, Any], n_components: int = 2) -> tuple[dict[Hashable, np.ndarray], np.ndarray]:
    """Project several embedding sets with one PCA fitted on all of them together. Chapter 1.

    Rows are L2-normalised, stacked, centred by the joint mean and projected on
    the top principal directions of the joint set, so distances in the picture
    are comparable across sets.

    Returns
    -------
    projections : dict
        Key -> ``(n_k, n_components)`` coordinates.
    explained : np.ndarray
        Fraction of the joint variance along each component.
    """
    keys = list(embeddings)
    if not keys:
        raise ValueError("joint_pca needs at least one embedding set.")
    mats = [l2_normalize(as_matrix(embeddings[k], name=str(k)), dtype=np.float64) for k in keys]
    dims = {m.shape[1] for m in mats}
    if len(dims) != 1:
        raise ValueError(f"all sets need the same dimension, got {sorted(dims)}.")
    joint = np.vstack(mats)
    mu = joint.mean(axis=0)
    _, s, vt = np.linalg.svd(joint - mu, full_matrices=False)
    k = int(min(n_components, vt.shape[0]))
    var = s**2
    explained = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    return {key: (m - mu) @ vt[:k].T for key, m in zip(keys, mats)}, explained
