"""The light core (issue 26): ``pip install gapkit`` brings no torch, and the core API works without it.

One fresh virtual environment, built with uv (its cache links the wheels, so a rebuild takes
seconds), gets gapkit from a copy of this checkout's sources (no build litter in the checkout)
with the core dependencies only. There, a script runs the geometry, the gap card, the shifts,
the statistics, plotting, the published embeddings (where ``GAPKIT_DATA`` has them) and the
``gapkit report`` command line, then checks that torch was never imported, and that the
torch-backed features name the extra to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "open-clip-torch", "transformers", "huggingface-hub", "sentencepiece", "datasets",
         "sentence-transformers")

SCRIPT = textwrap.dedent('''
    import importlib.util, json, os, sys, tempfile
    import numpy as np
    import gapkit
    from gapkit import geometry, plotting, shift, stats
    from gapkit.cli import main

    rng = np.random.default_rng(0)
    img = rng.normal(size=(400, 16)) + 1.0
    txt = img + rng.normal(size=(400, 16)) - 1.0
    card = gapkit.gap_report(img, txt, n_boot=20)
    assert abs(card["centroid_gap"] - gapkit.centroid_gap(img, txt)) < 1e-12
    moved = shift.LambdaShift(lam=1.0).fit(img, txt).transform(img, txt)
    assert gapkit.centroid_gap(*moved) < 0.5 * gapkit.centroid_gap(img, txt)  # the λ = 1 shift narrows the gap
    stats.paired_comparison(rng.normal(size=5), rng.normal(size=5))
    sweep = shift.lambda_metrics(img[:200], txt[:200], img[200:], txt[200:], [0.0, 1.0], retrieval=True)
    assert sweep.loc[0.0, "image→text top-1"] == geometry.retrieval_accuracy(img[200:], txt[200:])
    import matplotlib
    matplotlib.use("Agg")
    plotting.use_style(audit=False)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/a.npy", img.astype(np.float32))
        np.save(f"{tmp}/b.npy", txt.astype(np.float32))
        assert main(["report", f"{tmp}/a.npy", f"{tmp}/b.npy", "--boot", "10", "--json", f"{tmp}/c.json",
                     "--html", f"{tmp}/c.html"]) == 0
        assert json.load(open(f"{tmp}/c.json"))["n"] == 400
    published = None
    if os.environ.get("GAPKIT_DATA"):
        clip = gapkit.load_published_embeddings("liang2022/clip", download=False)
        published = round(gapkit.centroid_gap(clip.image, clip.text), 3)
    assert "torch" not in sys.modules, "the core imported torch"
    assert importlib.util.find_spec("torch") is None, "torch is installed in the core environment"
    for feature in ("import gapkit.train", "gapkit.load_encoder('mini-clip')", "import gapkit.contrastive"):
        try:
            exec(feature)
        except ImportError as exc:
            assert "pip install 'gapkit[models]'" in str(exc), exc
        else:
            raise AssertionError(f"{feature} worked without torch")
    print(json.dumps({"published_clip_gap": published}))
''')


def _uv() -> str:
    for cand in (Path(sys.executable).parent / "uv", shutil.which("uv")):
        if cand and Path(cand).exists():
            return str(cand)
    if os.environ.get("CI"):
        pytest.fail("uv is missing: it is in the test extra and requirements-lock.txt (make venv)")
    pytest.skip("uv is not installed (pip install uv)")


def _sources(dest: Path) -> Path:
    """What a pip install of the checkout reads: pyproject, README and the package (no caches, no build)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "gapkit", dest / "gapkit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def test_core_installs_and_runs_without_torch(tmp_path):
    uv = _uv()
    env = dict(os.environ, UV_NO_PROGRESS="1", VIRTUAL_ENV="")
    venv = tmp_path / "core"
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([uv, "venv", "-q", "--python", base, str(venv)], check=True, env=env)
    py = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--python", str(py), str(_sources(tmp_path / "src"))], check=True,
                   env=env, cwd=tmp_path)
    listed = subprocess.run([uv, "pip", "list", "--python", str(py), "--format", "freeze"], check=True,
                            capture_output=True, text=True, env=env).stdout
    names = {line.split("==")[0].lower().replace("_", "-") for line in listed.splitlines() if "==" in line}
    assert "gapkit" in names and {"numpy", "scipy", "pandas", "scikit-learn", "matplotlib"} <= names
    assert not names & set(HEAVY), f"the core install pulled in {sorted(names & set(HEAVY))}"
    # a researcher's plain shell: no notebook backend (a book-runner test in this process may have set
    # MPLBACKEND to matplotlib_inline, which the core does not install) and no book-build switches
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND", "GAPBOOK_EXPLORABLE")}
    res = subprocess.run([str(py), "-c", SCRIPT], capture_output=True, text=True, cwd=tmp_path, env=clean)
    assert res.returncode == 0, res.stderr[-3000:]
    if os.environ.get("GAPKIT_DATA") and (Path(os.environ["GAPKIT_DATA"]) / "liang2022").is_dir():
        assert '"published_clip_gap": 0.851' in res.stdout
    console = venv / "bin" / "gapkit"  # the console script
    out = subprocess.run([str(console), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("gapkit ")


def _expanded(extra: str, cfg: dict) -> set[str]:
    """Every distribution ``gapkit[extra]`` requires, through the extras it names (``gapkit[models,offline]``)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out: set[str] = set()
    todo, seen = [extra], set()
    while todo:
        e = todo.pop()
        if e in seen:
            continue
        seen.add(e)
        for line in cfg["optional-dependencies"][e]:
            req = Requirement(line)
            if canonicalize_name(req.name) == "gapkit":
                todo += sorted(req.extras)
            else:
                out.add(canonicalize_name(req.name))
    return out


def test_colab_book_and_test_extras_still_bring_the_model_stack():
    """Moving torch & co. out of the core must not take them from Colab's install cell, the book or CI."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {line.split(">")[0].split("=")[0].strip().lower() for line in cfg["dependencies"]}
    assert not core & {"torch", "torchvision", "open-clip-torch", "open_clip_torch", "transformers", "huggingface-hub"}
    stack = {"torch", "torchvision", "open-clip-torch", "transformers", "huggingface-hub", "sentencepiece", "protobuf"}
    assert _expanded("models", cfg) == stack
    for extra in ("colab", "book", "test", "offline"):
        assert stack <= _expanded(extra, cfg), extra
    assert "datasets" in _expanded("colab", cfg) and "uv" in _expanded("test", cfg)
