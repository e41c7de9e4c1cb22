"""The mini CLIP's hyperparameters: :class:`MiniCLIPConfig`, their checks (``_config``) and their cache form."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .._validation import SEED, Integral, Interval, Real, check_params
from ._params import _POS_INT, _POS_REAL


@dataclass(frozen=True)
class MiniCLIPConfig:
    """Architecture and training hyperparameters (all part of the weight-cache key).

    Attributes
    ----------
    embed_dim : int
        Joint-space dimension.
    image_size : int
        Side of the square RGB input; other sizes are resized (bilinear).
    patch_size, patch_channels : int
        The image tower's stem: non-overlapping ``patch_size``² patches, each
        mapped linearly to ``patch_channels`` features (a ViT-style patch embedding).
    image_hidden, text_hidden : int
        Hidden width of the image / text MLP heads.
    temperature : float
        τ of the InfoNCE loss (initial τ when ``learnable_temperature``).
    learnable_temperature : bool
        Learn ``log(1/τ)`` (capped at ``1/τ = 100``, as CLIP does).
    epochs, batch_size, lr, weight_decay : training schedule (AdamW).
    seed : int
        Seeds the initialisation and the batch order.
    temperature_end : float or None
        A temperature schedule (Yaras et al. 2025): τ moves from ``temperature`` at the first
        step to ``temperature_end`` at the last, log-linearly (``log(1/τ)`` linear in the step).
        ``None`` (default): τ stays at ``temperature`` (or is learned). Not with a learnable τ.
    modality_swap : float in [0, 1]
        Modality swapping (Yaras et al. 2025): in every batch each pair, with this probability
        (seeded, independently of the batch order), has its image and text embeddings trade
        places in the loss, so each side of the similarity matrix mixes both modalities.
        0 (default) = plain CLIP loss.
    shared_towers : bool
        Parameter sharing (Eslami et al.): the two towers share their last layer (hidden features
        to the joint space), one module and one set of weights; the input stems (the image
        tower's patch embedding and first layer, the text tower's first layer over MiniLM's
        features) stay separate, since their inputs differ. Needs ``image_hidden == text_hidden``.
    same_init : bool
        One initialisation for both towers: the text tower's last layer starts as a copy of the
        image tower's (then trained separately), the part of the two towers that has the same
        shape. Needs ``image_hidden == text_hidden``.
    hard_negatives : str or None
        Set by :func:`train_mini_clip` from its ``hard_negatives=`` captions: their digest (part
        of the cache key). With it, the image-to-text half of the loss scores each image against
        the batch's captions *and* the batch's hard-negative captions (Jiang et al.).
    """

    embed_dim: int = 128
    image_size: int = 32
    patch_size: int = 4
    patch_channels: int = 16
    image_hidden: int = 256
    text_hidden: int = 256
    temperature: float = 0.01
    learnable_temperature: bool = False
    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 0
    temperature_end: float | None = None
    modality_swap: float = 0.0
    shared_towers: bool = False
    same_init: bool = False
    hard_negatives: str | None = None


#: Options added after the first cached weights: at these defaults they are left out of the cache key, the
#: stored config and the fingerprint, so weights trained before the options existed stay valid.
_LATER_DEFAULTS: dict[str, Any] = {"temperature_end": None, "modality_swap": 0.0, "shared_towers": False,
                                   "same_init": False, "hard_negatives": None}


def _cache_config(cfg: MiniCLIPConfig) -> dict[str, Any]:
    """``asdict(cfg)`` without the later options that sit at their defaults (cache key, stored config, fingerprint)."""
    out = asdict(cfg)
    for key, default in _LATER_DEFAULTS.items():
        if out[key] == default:
            del out[key]
    return out


#: Constraints of every mini-CLIP hyperparameter (gapkit._validation.check_params).
_CONFIG_CONSTRAINTS: dict[str, list[Any]] = {
    "embed_dim": _POS_INT, "image_size": _POS_INT, "patch_size": _POS_INT, "patch_channels": _POS_INT,
    "image_hidden": _POS_INT, "text_hidden": _POS_INT, "temperature": _POS_REAL,
    "learnable_temperature": ["boolean"], "epochs": [Interval(Integral, 0, None, closed="left")],
    "batch_size": _POS_INT, "lr": _POS_REAL, "weight_decay": [Interval(Real, 0, None, closed="left")], "seed": [SEED],
    "temperature_end": [None] + _POS_REAL, "modality_swap": [Interval(Real, 0, 1, closed="both")],
    "shared_towers": ["boolean"], "same_init": ["boolean"], "hard_negatives": [None, str],
}


def _config(temperature: float, learnable_temperature: bool, epochs: int, seed: int, embed_dim: int,
            overrides: dict[str, Any]) -> MiniCLIPConfig:
    known = set(MiniCLIPConfig.__dataclass_fields__)
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown mini-clip option(s) {sorted(unknown)}; known: {sorted(known)}.")
    values = check_params(_CONFIG_CONSTRAINTS, owner="mini-clip", embed_dim=embed_dim, temperature=temperature,
                          learnable_temperature=learnable_temperature, epochs=epochs, seed=seed, **overrides)
    if values["learnable_temperature"] and values.get("temperature_end") is not None:
        raise ValueError("mini-clip: temperature_end sets a fixed temperature schedule, learnable_temperature=True "
                         "learns τ instead; pass one of them (learnable_temperature=False for the schedule).")
    cfg = MiniCLIPConfig(**values)
    for opt in ("shared_towers", "same_init"):
        if getattr(cfg, opt) and cfg.image_hidden != cfg.text_hidden:
            raise ValueError(f"mini-clip: {opt}=True needs towers of one hidden width, got image_hidden="
                             f"{cfg.image_hidden} and text_hidden={cfg.text_hidden}; pass the same value for both.")
    if cfg.shared_towers and cfg.same_init:
        raise ValueError("mini-clip: shared_towers=True already gives both towers one last layer; same_init=True "
                         "(a copy, trained separately) cannot be combined with it: pass one of them.")
    return cfg
