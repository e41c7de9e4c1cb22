"""The book's explorable figures, each built from gapkit's own computations (chapters 1, 2, 4 and 7)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._validation import as_matrix, as_paired, l2_normalize
from ..plotting import COLORS, MODALITY_COLORS
from ._figure import Explorable, Frame, Layer

__all__ = ["lambda_explorer", "depth_explorer", "line_explorer", "training_explorer", "LAMBDA_NUMBERS"]

#: The numbers beside chapter 4's λ explorer: label -> column of :func:`gapkit.shift.lambda_metrics`.
LAMBDA_NUMBERS: dict[str, str] = {
    "centroid gap": "gap, test",
    "paired cosine": "paired cosine",
    "image→text top-1": "image→text top-1",
    "text→image top-1": "text→image top-1",
    "linear separability": "separability",
}


def _subsample(n: int, max_points: int | None, seed: int) -> np.ndarray:
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def lambda_explorer(image_fit: Any, text_fit: Any, image_eval: Any, text_eval: Any, metrics: Any, *,
                    model: str, max_points: int | None = 300, seed: int = 0) -> Explorable:
    """Chapter 4's λ explorer: the held-out pairs in the fixed (Δ, main spread) plane at every λ.

    Parameters
    ----------
    image_fit, text_fit : array_like, shape (n_fit, d)
        The pairs Δ is fitted on.
    image_eval, text_eval : array_like, shape (n, d)
        The held-out pairs drawn (at most ``max_points`` of them, a seeded subsample; the numbers
        use all).
    metrics : pandas.DataFrame
        :func:`gapkit.shift.lambda_metrics` of these splits with ``retrieval=True``; one frame per
        row, and its columns give the numbers beside the picture (:data:`LAMBDA_NUMBERS`).
    model : str
        The model's name, for the title.

    Returns
    -------
    Explorable
        Starting at λ = 0 (or the row nearest it).
    """
    from ..shift import LambdaShift, gap_plane

    img_fit, txt_fit = as_paired(image_fit, text_fit)
    img, txt = as_paired(image_eval, text_eval)
    missing = [c for c in LAMBDA_NUMBERS.values() if c not in metrics.columns]
    if missing:
        raise ValueError(f"lambda_explorer: metrics lacks {missing}; pass lambda_metrics(..., retrieval=True).")
    basis = gap_plane(LambdaShift(0.0).fit(img_fit, txt_fit).gap_, img, txt)
    keep = _subsample(len(img), max_points, seed)
    frames = []
    for lam, row in metrics.iterrows():
        v, t = LambdaShift(float(lam)).fit(img_fit, txt_fit).transform(img, txt)
        layers = []
        for x, modality in ((v, "image"), (t, "text")):
            xy = x[keep].astype(np.float64) @ basis
            layers.append(Layer(f"{modality}s", xy[:, 0], xy[:, 1], MODALITY_COLORS[modality], size=5, opacity=0.45))
        for x, modality in ((v, "image"), (t, "text")):
            c = l2_normalize(x, dtype=np.float64).mean(axis=0) @ basis
            layers.append(Layer(f"{modality} centroid", [c[0]], [c[1]], MODALITY_COLORS[modality], size=14,
                                opacity=1.0, symbol="x"))
        frames.append(Frame(float(lam), [layers], {k: float(row[c]) for k, c in LAMBDA_NUMBERS.items()},
                            label=f"{float(lam):g}"))
    lams = np.array([f.value for f in frames])
    return Explorable(
        frames, parameter="λ", titles=[f"{model}: held-out pairs after the λ-shift"],
        xlabel="along Δ (fitted on the other half)", ylabel="main spread, orthogonal to Δ",
        active=int(np.argmin(np.abs(lams))), numbers_title="Held-out pairs",
        alt=(f"{model}'s held-out images (blue) and captions (orange) projected on the gap direction and the main "
             "spread orthogonal to it; a slider moves λ from its smallest to its largest value, and the two clouds "
             "slide towards each other along the gap direction as λ grows to 1."),
    )


def depth_explorer(x: Any, depths: Sequence[int], *, width: int = 512, seed: int = 0,
                   activations: Sequence[str] = ("relu", "linear"), max_points: int | None = 300) -> Explorable:
    """Chapter 1's cone from nothing: a random MLP's outputs at every depth, one panel per nonlinearity.

    Each panel shows the unit-normalised outputs in the plane of their own mean direction (horizontal,
    the cone's axis) and their main spread orthogonal to it, inside the unit circle: a cone is a
    cluster near (1, 0). One network of weights per ``seed`` serves every nonlinearity
    (:meth:`gapkit.cone.RandomMLP.with_activation`), as in :func:`gapkit.cone.mlp_cone`, whose ``R``
    and ``mean_cosine`` at this seed are the numbers beside the picture.

    Parameters
    ----------
    x : array_like, shape (n, d)
        Inputs (:func:`gapkit.cone.gaussian_inputs`).
    depths : sequence of int
        The slider's positions.
    width, seed : int
        The network (:func:`gapkit.cone.random_mlp`).
    activations : sequence of str
        One panel each.
    max_points : int or None
        At most this many outputs are drawn (a seeded subsample); the numbers use all.
    """
    from ..cone import _activation_name, random_mlp
    from ..geometry import mean_pairwise_cosine, mean_resultant_length
    from ..shift import plane_through

    arr = as_matrix(x, name="x")
    depths = sorted({int(d) for d in depths})
    if not depths or depths[0] < 1:
        raise ValueError(f"depth_explorer: depths must be integers >= 1, got {depths}.")
    names = [_activation_name(a) for a in activations]
    base = random_mlp(depths[-1], width=width, activation="linear", seed=seed, in_dim=arr.shape[1])
    outs = {name: base.with_activation(name).layer_outputs(arr) for name in names}
    keep = _subsample(len(arr), max_points, seed)
    circle = np.linspace(0, 2 * np.pi, 97)
    pretty = {"relu": "ReLU", "linear": "linear", "tanh": "tanh", "sigmoid": "sigmoid"}
    frames = []
    for d in depths:
        layers, numbers = [], {}
        for name in names:
            z = outs[name][d - 1]
            u = l2_normalize(z, dtype=np.float64)
            axis = u.mean(axis=0)
            norm = float(np.linalg.norm(axis))
            e1 = axis / norm if norm > 0 else np.eye(u.shape[1])[0]
            xy = u[keep] @ plane_through(e1, u[keep])
            layers.append([Layer("unit circle", np.cos(circle), np.sin(circle), COLORS["grey"], mode="lines", size=1,
                                 opacity=0.6),
                           Layer("outputs (unit rows)", xy[:, 0], xy[:, 1], COLORS["green"], size=5, opacity=0.45)])
            label = pretty.get(name, name)
            numbers[f"{label}: R"] = mean_resultant_length(z)
            numbers[f"{label}: mean cosine"] = mean_pairwise_cosine(z)
        frames.append(Frame(float(d), layers, numbers, label=str(d)))
    return Explorable(
        frames, parameter="depth", titles=[f"σ = {pretty.get(n, n)}" for n in names], equal_aspect=True,
        xlabel="along the mean direction", ylabel="main spread, orthogonal to it",
        xrange=(-1.1, 1.1), yrange=(-1.1, 1.1), numbers_title="Cone at this depth",
        alt=("Outputs of a random MLP projected on their mean direction and main spread, inside the unit circle, for "
             "ReLU and for no nonlinearity (linear); a slider moves the depth. With ReLU the points gather towards (1, 0), "
             "a narrow cone, as depth grows; without a nonlinearity they stay spread around the circle."),
    )


def line_explorer(curves: Any, *, slider: str, x: str, y: str, series: str, colors: dict[str, str],
                  xlabel: str, ylabel: str, title: str, alt: str, numbers: Any = None,
                  baseline: Any = None, formats: dict[str, str] | None = None, scale: float = 1.0,
                  numbers_title: str = "At this setting") -> Explorable:
    """Curves that change with a slider: one line per ``series``, one frame per value of ``slider``.

    Chapter 7 moves λ and watches each shift's flip rate against the noise level.

    Parameters
    ----------
    curves : pandas.DataFrame
        Long format, with columns ``slider``, ``series``, ``x`` and ``y`` (one row per point).
    slider, x, y, series : str
        Column names.
    colors : dict of str to str
        One colour per series value (the legend's order).
    numbers : pandas.DataFrame, optional
        Indexed by the slider's values; its columns are the numbers beside the picture.
    baseline : optional
        A slider value whose curves stay in every frame as grey dotted reference lines.
    scale : float
        Multiplies ``y`` (100 draws rates in per cent).
    """
    if numbers is not None:
        numbers = numbers.copy()
    values = list(dict.fromkeys(curves[slider].tolist()))
    if len(values) < 2:
        raise ValueError(f"line_explorer: {slider!r} takes {len(values)} value(s); the slider needs at least 2.")
    unknown = sorted(set(curves[series]) - set(colors), key=str)
    if unknown:
        raise ValueError(f"line_explorer: no colour for {unknown}; pass colors={{name: colour}} for every series.")

    def lines(value: Any, *, reference: bool) -> list[Layer]:
        out, drawn = [], []
        for name, color in colors.items():
            part = curves[(curves[slider] == value) & (curves[series] == name)].sort_values(x)
            xy = (part[x].tolist(), (scale * part[y]).tolist())
            if reference:
                if xy in drawn:  # series that coincide at the reference value get one grey line
                    continue
                drawn.append(xy)
                out.append(Layer(f"{name} at {slider} = {value:g}", *xy, COLORS["grey"],
                                 mode="lines", size=1.5, opacity=0.8, dash="dot"))
            else:
                out.append(Layer(str(name), *xy, color, mode="lines+markers", size=2.5, opacity=1.0))
        if reference and len(out) == 1 and len(colors) > 1:
            out = [Layer(f"every {series} at {slider} = {value:g}", out[0].x, out[0].y, COLORS["grey"], mode="lines",
                         size=1.5, opacity=0.8, dash="dot")]
        return out

    frames = []
    for value in values:
        layers = lines(value, reference=False) + (lines(baseline, reference=True) if baseline is not None else [])
        nums = {k: float(v) for k, v in numbers.loc[value].items()} if numbers is not None else {}
        frames.append(Frame(float(value), [layers], nums, label=f"{value:g}"))
    ys = scale * curves[y].to_numpy(dtype=float)
    xs = curves[x].to_numpy(dtype=float)
    pad_x = 0.03 * (xs.max() - xs.min() or 1.0)
    return Explorable(frames, parameter=slider, titles=[title], xlabel=xlabel, ylabel=ylabel,
                      xrange=(float(xs.min() - pad_x), float(xs.max() + pad_x)),
                      yrange=(0.0, float(ys.max() * 1.05 or 1.0)), formats=formats, alt=alt,
                      numbers_title=numbers_title)


def training_explorer(histories: dict[str, dict[str, Any]], *, short: dict[str, str] | None = None,
                      max_points: int | None = 128) -> Explorable:
    """Chapter 2's training explorer: the two modalities at every epoch, one panel per training run.

    Parameters
    ----------
    histories : dict of str to dict
        Panel title -> a mini-clip's ``history`` (:func:`gapkit.contrastive.train_mini_clip`), whose
        ``"plane"`` holds the tracked pairs in the model's own gap plane at initialisation (epoch 0)
        and after every epoch, with their centroid gap and paired cosine. Every run needs the same
        number of epochs.
    short : dict of str to str, optional
        A short name per panel title for the numbers beside the picture (``"cold"``; default the title).
    max_points : int or None
        Pairs drawn per modality (the first ones of the record).
    """
    short = dict(short or {})
    planes = {}
    for title, history in histories.items():
        plane = history.get("plane")
        if not plane:
            raise ValueError(f"training_explorer: {title!r} has no history['plane']; train it with gapkit >= this "
                             "version (the cache is keyed by version, so a new run records it).")
        planes[title] = plane
    counts = {len(p) for p in planes.values()}
    if len(counts) != 1:
        raise ValueError(f"training_explorer: the runs recorded {sorted(counts)} epochs; compare runs of equal length.")
    k = slice(None, max_points)
    frames = []
    for epoch in range(counts.pop()):
        layers, numbers = [], {}
        for title, plane in planes.items():
            rec = plane[epoch]
            panel = []
            for modality in ("image", "text"):
                xy = np.asarray(rec[modality], dtype=float)[k]
                panel.append(Layer(f"{modality}s", xy[:, 0], xy[:, 1], MODALITY_COLORS[modality], size=5, opacity=0.5))
            layers.append(panel)
            numbers[f"{short.get(title, title)}: gap"] = float(rec["gap"])
            numbers[f"{short.get(title, title)}: paired cosine"] = float(rec["paired_cosine"])
        frames.append(Frame(float(epoch), layers, numbers, label=str(epoch)))
    return Explorable(
        frames, parameter="epoch", titles=list(planes), xlabel="along the model's own Δ",
        ylabel="main spread, orthogonal to Δ", xrange=(-1.05, 1.05), yrange=(-1.05, 1.05), equal_aspect=True,
        numbers_title="Training pairs", active=0,
        alt=("Training images (blue) and captions (orange) of two mini-CLIP runs, at a cold and a warm temperature, "
             "projected on each model's gap direction and main spread; a slider moves through the epochs of "
             "training, from the random initialisation to the end."),
    )
