"""Colab's package set: the one table the simulation builds from and checks against.

Source: googlecolab/backend-info, snapshot of 2026-08-19 (see /work/shared/background.md and
issue 12). Each value is a PEP 440 version or wildcard (``3.6.*``) that the installed
distribution must match exactly.
"""

from __future__ import annotations

from typing import Mapping

#: Installed in the simulated runtime at Colab's version (name -> version).
COLAB: dict[str, str] = {
    # scientific stack
    "numpy": "2.1.3",
    "pandas": "2.2.3",
    "scipy": "1.16.3",
    "scikit-learn": "1.6.1",
    "matplotlib": "3.10.0",
    "plotly": "5.24.1",  # Colab's own (pip-freeze.gpu.txt); gapkit.explorable must work with it
    # ML stack
    "transformers": "5.15.0",
    "sentence-transformers": "5.7.0",
    "datasets": "4.0.0",
    "huggingface_hub": "1.27.0",
    # notebook stack
    "ipywidgets": "7.7.1",
    "widgetsnbextension": "3.6.*",  # ipywidgets 7.7.1 pins ~=3.6.0; Colab ships its 3.6.x
    "jupytext": "1.19.5",
}

#: Where the simulation cannot follow Colab: (Colab's version, what the simulation uses, why).
DEVIATIONS: dict[str, tuple[str, str, str]] = {
    "python": ("3.13", "3.11", "the only Python on this machine"),
    "torch": ("2.11.0+cu128", "2.14.1", "the only torch/torchvision pair that installs here"),
    "torchvision": ("0.26.0", "0.29.1", "the only torch/torchvision pair that installs here"),
}

#: Kept at the simulation's version (reused from the main .venv, never downloaded again).
KEPT: dict[str, str] = {name: sim for name, (_, sim, _) in DEVIATIONS.items() if name != "python"}

#: Not installed in a fresh Colab runtime.
ABSENT_IN_COLAB: tuple[str, ...] = ("open_clip_torch", "myst-nb", "jupyter-book")

#: Must still be absent after the hidden install cell ran (open_clip_torch is a gapkit dependency).
ABSENT_AFTER_INSTALL: tuple[str, ...] = ("myst-nb", "jupyter-book")

#: Installed unpinned, as Colab has them (the kernel and its IPython).
UNPINNED: tuple[str, ...] = ("ipykernel",)


def requirement_lines() -> list[str]:
    """``name==version`` for every pinned package (the input of the environment build)."""
    return [f"{name}=={version}" for name, version in COLAB.items()]


def check_versions(installed: Mapping[str, str | None], *, absent: tuple[str, ...] = ABSENT_IN_COLAB,
                   expected: Mapping[str, str] | None = None) -> list[str]:
    """Problems (empty when none) comparing ``installed`` (name -> version or None) with the table.

    ``expected`` defaults to :data:`COLAB` plus :data:`KEPT`; every name in ``absent`` must be
    missing (None or not a key).
    """
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    have = {canonicalize_name(k): v for k, v in installed.items()}
    expected = dict(COLAB, **KEPT) if expected is None else dict(expected)
    problems = []
    for name, want in expected.items():
        got = have.get(canonicalize_name(name))
        if got is None:
            problems.append(f"{name}: not installed, Colab has {want}")
        elif Version(got) not in SpecifierSet(f"=={want}"):
            problems.append(f"{name}: {got} installed, Colab has {want}")
    for name in absent:
        got = have.get(canonicalize_name(name))
        if got is not None:
            problems.append(f"{name}: {got} installed, Colab has none")
    return problems
