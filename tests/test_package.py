"""Package-level behaviour: lazy exports, profiles, the plotting style."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

import gapkit
from gapkit import plotting
from gapkit.profile import PROFILES, resolve_profile


@pytest.mark.parametrize("name", sorted(gapkit._EXPORTS))
def test_every_export_resolves(name):
    obj = getattr(gapkit, name)
    assert obj is getattr(importlib.import_module(f"gapkit.{gapkit._EXPORTS[name]}"), name)


def test_import_gapkit_does_not_import_torch():
    code = "import sys, gapkit; gapkit.centroid_gap; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


LIVE_STATE = {
    "gapkit.train": {"_MM_THREADS": "gapkit.train._threads"},
    "gapkit.geometry": {"_BLAS_CONTROLLER": "gapkit.geometry._rows"},
    "gapkit.encoders": {"_REGISTRY": "gapkit.encoders._registry", "_LAZY": "gapkit.encoders._registry",
                        "_COMPOSITES_ALPHA": "gapkit.encoders._images"},
    "gapkit.contrastive": {"_MINILM": "gapkit.contrastive._text", "_TEXT_MEMO": "gapkit.contrastive._text"},
}


@pytest.mark.parametrize("package", sorted(LIVE_STATE))
def test_package_state_is_read_live_from_its_one_home(package, monkeypatch):
    pkg = importlib.import_module(package)
    for name, home in LIVE_STATE[package].items():
        module = importlib.import_module(home)
        assert name not in vars(pkg) and name in dir(pkg), name   # no copy in the package, but listed
        marker = object()
        monkeypatch.setattr(module, name, marker)
        assert getattr(pkg, name) is marker, name                   # the value of the moment, not a copy
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        pkg.no_such_name


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError):
        gapkit.no_such_thing


def test_profiles(monkeypatch, capsys):
    monkeypatch.delenv("GAPKIT_PROFILE", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    prof = resolve_profile("auto")
    assert prof.name == "offline" and not prof.online
    assert "Profile 'offline'" in capsys.readouterr().out
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    assert resolve_profile("auto", verbose=False).name == "full"
    monkeypatch.setenv("GAPKIT_PROFILE", "ci")
    ci = resolve_profile("auto", verbose=False)
    assert ci.name == "ci" and ci.scale == PROFILES["ci"]["scale"]
    assert ci.n(1000) == 250 and ci.n(4, minimum=3) == 3
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_profile("gpu-please")


@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "nan", "small"])
def test_gapkit_scale_shrinks_any_profile(monkeypatch, bad):
    monkeypatch.delenv("GAPKIT_PROFILE", raising=False)
    monkeypatch.setenv("GAPKIT_SCALE", "0.25")
    full = resolve_profile("full", verbose=False)
    assert full.online and full.scale == 0.25 and full.n(1000) == 250 and "GAPKIT_SCALE" in full.reason
    monkeypatch.setenv("GAPKIT_SCALE", bad)
    with pytest.raises(ValueError, match="GAPKIT_SCALE.*in \\(0, 1\\]"):
        resolve_profile("full", verbose=False)


def test_every_subpackage_is_in_the_distribution():
    """A plain (non-editable) pip install must carry gapkit.exercises and any later subpackage."""
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = cfg["packages"]["find"]["include"]
    subpackages = [".".join(p.parent.relative_to(root).parts) for p in (root / "gapkit").rglob("__init__.py")]
    assert "gapkit.exercises" in subpackages
    assert all(any(fnmatch(pkg, pat) for pat in include) for pkg in subpackages)


def test_provenance_lines(capsys):
    prof = resolve_profile("ci", verbose=False)
    prof.provenance(["random:ViT-B-32"], "digits")
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["Models: random:ViT-B-32", "Data: digits"]


def test_plot_label_requires_both_axes():
    import matplotlib

    matplotlib.use("Agg")
    plotting.use_style()
    fig, ax = plotting.new_figure()
    plotting.label(ax, "λ", "centroid gap", "t")
    assert ax.get_xlabel() == "λ" and ax.get_title() == "t"
    with pytest.raises(ValueError):
        plotting.label(ax, "λ", "")
    cols = plotting.lambda_palette(np.linspace(0, 1, 5))
    assert len(cols) == 5 and cols[0] != cols[-1]
