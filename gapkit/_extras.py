"""The optional ``models`` extra: torch and the model libraries, imported only where they are needed.

``pip install gapkit`` is the light core (numpy, scipy, pandas, scikit-learn, matplotlib, pooch,
platformdirs, tqdm): geometry, the shifts, statistics, the gap card, the published embeddings,
plotting and the ``gapkit`` command line. The encoders, the mini-clip stand-in, the supervised
heads (:mod:`gapkit.train`), the adapters and ``gapkit embed`` need ``pip install 'gapkit[models]'``
(torch, torchvision, open_clip, transformers, huggingface_hub, sentencepiece). Each of those entry
points calls :func:`require_models` first, so a core install says which extra to add instead of
failing with a bare ``ModuleNotFoundError: No module named 'torch'`` somewhere inside.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

#: the pip requirement that adds the model stack to a core install
MODELS_EXTRA = "gapkit[models]"

#: the modules of the models extra that every torch-backed feature needs
_MODEL_MODULES = ("torch",)


class MissingExtraError(ImportError):
    """A feature needs an optional extra that is not installed; the message names the pip command."""


def missing_extra_message(feature: str, module: str, extra: str = MODELS_EXTRA) -> str:
    """One sentence naming the feature, the missing module and the install command."""
    return (f"{feature} needs {module}, which the light core install of gapkit leaves out; "
            f"install it with: pip install '{extra}'")


def require_models(feature: str, modules: tuple[str, ...] = _MODEL_MODULES) -> None:
    """Raise :class:`MissingExtraError` unless ``modules`` (default: torch) are importable.

    Cheap: it looks the modules up (``importlib.util.find_spec``) without importing them.

    Parameters
    ----------
    feature : str
        What the caller is, for the message (``"gapkit.train"``, ``"load_encoder('mini-clip')"``).
    modules : tuple of str
        Top-level modules the feature imports.
    """
    for module in modules:
        try:  # a module set to None in sys.modules (blocked) or a half-removed installation counts as missing
            found = sys.modules.get(module, False) is not None and importlib.util.find_spec(module) is not None
        except (ImportError, ValueError, AttributeError):
            found = False
        if not found:
            raise MissingExtraError(missing_extra_message(feature, module))


def import_torch(feature: str) -> ModuleType:
    """``import torch``, or :class:`MissingExtraError` naming the extra when the core install lacks it."""
    require_models(feature)
    import torch

    return torch
