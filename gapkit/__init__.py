"""gapkit: measure and move the modality gap in vision-language embeddings.

The companion package of the *gapbook* Jupyter Book. Modules, one idea each:

- :mod:`gapkit.geometry`   gap and cone metrics, the distribution gap, conformity (chapters 1, 3, 4, 5)
- :mod:`gapkit.cone`       random MLPs and randomly initialised towers (chapter 1)
- :mod:`gapkit.shift`      post-hoc interventions: the λ-shift and friends (chapters 4, 6 and 7)
- :mod:`gapkit.train`      supervised early-fusion heads and λ sweeps (chapter 6)
- :mod:`gapkit.encoders`   real encoders and offline stand-ins (every chapter)
- :mod:`gapkit.contrastive` a small CLIP-style model trained in seconds (chapter 2)
- :mod:`gapkit.datasets`   paired image-text data, offline and online
- :mod:`gapkit.cache`      content-hashed embedding cache
- :mod:`gapkit.stats`      paired comparisons across seeds (chapter 6)
- :mod:`gapkit.robustness` flip rates under perturbations (chapter 7)
- :mod:`gapkit.adapters`   projecting image embeddings into a language model's token space (chapter 8)
- :mod:`gapkit.profile`    which models/data/device a run uses (offline, CI, Colab)
- :mod:`gapkit.plotting`   the book's figure style
- :mod:`gapkit.notebook`   glue for the book build, printed values in Colab (every chapter)
- :mod:`gapkit.cli`        the ``gapkit`` command line: report, compare, embed
- :mod:`gapkit.sufficient` the card's metrics as mergeable sums: shards, ranks (``torchrun``)

``pip install gapkit`` is the light core (no torch); the encoders, mini-clip, :mod:`gapkit.train` and
``gapkit embed`` need ``pip install 'gapkit[models]'`` and say so when it is missing
(:mod:`gapkit._extras`).

Names are imported lazily so ``import gapkit`` stays fast and does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # geometry
    "gap_vector": "geometry",
    "centroid_gap": "geometry",
    "paired_distance": "geometry",
    "paired_cosine": "geometry",
    "relative_modality_gap": "geometry",
    "linear_separability": "geometry",
    "mean_resultant_length": "geometry",
    "mean_pairwise_cosine": "geometry",
    "effective_rank": "geometry",
    "participation_ratio": "geometry",
    "first_pc_variance_share": "geometry",
    "alignment": "geometry",
    "uniformity": "geometry",
    "gap_report": "geometry",
    "normalize_rows": "geometry",
    "GapReport": "geometry",
    "gap_decomposition": "geometry",
    "distribution_gap": "geometry",
    "frechet_distance": "geometry",
    "mmd": "geometry",
    "conformity": "geometry",
    "joint_clustering_score": "geometry",
    "GapDecomposition": "geometry",
    "JointClustering": "geometry",
    # shift
    "LambdaShift": "shift",
    "MeanCentering": "shift",
    "ModalityStandardization": "shift",
    "OrthogonalShift": "shift",
    # train
    "sweep_lambda": "train",
    "SweepResult": "train",
    "train_head": "train",
    # robustness
    "flip_rate": "robustness",
    "zero_shot_accuracy": "robustness",
    "zero_shot_margins": "robustness",
    # encoders and cache
    "load_encoder": "encoders",
    "available_encoders": "encoders",
    "EncoderUnavailableError": "encoders",
    "EmbeddingCache": "cache",
    "cached_embed": "cache",
    "cached_embed_dataset": "cache",
    # published real embeddings (Liang et al. 2022)
    "load_published_embeddings": "datasets",
    "available_published_embeddings": "datasets",
    # stats
    "paired_comparison": "stats",
    "PairedComparison": "stats",
    # profile
    "resolve_profile": "profile",
    "Profile": "profile",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


_SUBMODULES = {
    "geometry", "cone", "shift", "train", "encoders", "contrastive", "datasets", "cache",
    "robustness", "profile", "plotting", "adapters", "notebook", "explorable",
    "stats",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"gapkit.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gapkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gapkit.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
