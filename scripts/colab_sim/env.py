"""The simulated Colab runtime: a virtual environment holding Colab's package versions.

Built with uv (files are linked from uv's cache, so a rebuild takes seconds). torch, torchvision
and their CUDA dependencies (triton, nvidia-*, cuda-*) are not installed again: a directory of
symlinks to those packages in the main ``.venv`` (``_build/colab-torch``, outside the
environment's prefix, so that pip there never uninstalls them) is added to ``sys.path`` by a
``.pth`` file. pip in the simulated runtime (the install cell's ``%pip``) sees them as installed
and keeps them; uv, which only looks at the environment's own site-packages, is told not to
install them (an override with a marker that never holds).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import versions

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "_build"
ENV = BUILD / "colab-env"
TORCH_LINKS = BUILD / "colab-torch"
MAIN_VENV = ROOT / ".venv"

#: Distributions reused from the main .venv (with the CUDA packages torch depends on).
HEAVY_PREFIXES = ("torch", "torchvision", "triton", "nvidia-", "cuda-")


def log(msg: str) -> None:
    print(f"[colab-sim] {msg}", flush=True)


def env_python(env: Path = ENV) -> Path:
    return env / "bin" / "python"


def site_packages(env: Path = ENV) -> Path:
    out = subprocess.run([str(env_python(env)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


def uv_exe() -> str:
    for cand in (Path(sys.executable).parent / "uv", MAIN_VENV / "bin" / "uv"):
        if cand.exists():
            return str(cand)
    found = shutil.which("uv")
    if not found:
        raise SystemExit("[colab-sim] uv is not installed: it is pinned in requirements-lock.txt (make venv)")
    return found


def _is_heavy(name: str) -> bool:
    name = name.lower().replace("_", "-")
    return name in ("torch", "torchvision", "triton") or name.startswith(("nvidia-", "cuda-"))


def torch_closure() -> tuple[dict[str, object], list[str]]:
    """torch + torchvision's dependency closure in the running (main) environment.

    Returns ``(heavy, light)``: the distributions to link (torch, torchvision, triton, nvidia-*,
    cuda-*), and requirement strings for the other dependencies (sympy, filelock...) which the
    simulated runtime installs itself (Colab has its own copies of those).
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    dists = {}
    for d in metadata.distributions():
        dists.setdefault(canonicalize_name(d.metadata["Name"]), d)
    heavy: dict[str, object] = {}
    light: dict[str, str] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...], str]] = [("torch", (), "torch"), ("torchvision", (), "torchvision")]
    while todo:
        name, extras, spec = todo.pop()
        cname = canonicalize_name(name)
        if not _is_heavy(cname):
            light.setdefault(cname, spec)
            continue
        if (cname, extras) in seen:
            continue
        seen.add((cname, extras))
        dist = dists.get(cname)
        if dist is None:
            raise SystemExit(f"[colab-sim] {cname} is not installed in {sys.prefix} (torch needs it): run make venv")
        heavy[cname] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (extras or ("",))):
                continue
            todo.append((req.name, tuple(sorted(req.extras)), str(req).split(";")[0].strip()))
    table = {canonicalize_name(n) for n in versions.COLAB}
    return heavy, sorted(spec for name, spec in light.items() if name not in table)


def link_torch(heavy: dict[str, object], dest: Path = TORCH_LINKS) -> None:
    """A directory of symlinks to the heavy packages' top-level entries and their .dist-info."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for dist in heavy.values():
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in (dist.files or []) if not str(f).startswith("..")}
        for top in sorted(tops - {"__pycache__"}):
            link = dest / top
            if not link.exists():
                link.symlink_to(base / top)


def installed_versions(python: Path) -> dict[str, str]:
    """name -> version of every distribution ``python`` sees (the first one on sys.path wins)."""
    code = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        "for d in m.distributions():\n"
        "    out.setdefault(d.metadata['Name'], d.version)\n"
        "print(json.dumps(out))\n"
    )
    # from the runtime's own folder: a stray gapkit.egg-info in the checkout must not count as installed
    res = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True, cwd=str(python.parent))
    return json.loads(res.stdout)


def verify(python: Path = None, *, absent: tuple[str, ...] = versions.ABSENT_IN_COLAB) -> dict[str, str]:
    """Fail (SystemExit) unless ``python`` holds exactly the table's versions."""
    python = python or env_python()
    have = installed_versions(python)
    problems = versions.check_versions(have, absent=absent)
    if problems:
        raise SystemExit("[colab-sim] the simulated runtime does not match Colab's versions:\n  "
                         + "\n  ".join(problems))
    return have


STAMP_NAME = ".colab-sim-env.json"
BASE_NAME = ".colab-sim-base.json"  # every distribution of the freshly built runtime


def reset(env: Path = ENV) -> float:
    """Back to the freshly built runtime: uninstall what was installed since (seconds taken).

    A runtime whose base packages changed (another version, or one removed) is rebuilt instead.
    """
    from packaging.utils import canonicalize_name

    t0 = time.perf_counter()
    base_file = env / BASE_NAME
    if not base_file.exists():
        return build(env=env)
    base = {canonicalize_name(k): v for k, v in json.loads(base_file.read_text()).items()}
    now = {canonicalize_name(k): v for k, v in installed_versions(env_python(env)).items()}
    if any(now.get(k) != v for k, v in base.items()):
        return build(env=env)
    added = sorted(set(now) - set(base))
    if added:
        subprocess.run([uv_exe(), "pip", "uninstall", "-q", "--python", str(env_python(env)), *added], check=True)
    if {canonicalize_name(k): v for k, v in installed_versions(env_python(env)).items()} != base:
        return build(env=env)
    return time.perf_counter() - t0


def _stamp_content() -> dict[str, object]:
    return {"colab": versions.COLAB, "kept": versions.KEPT, "unpinned": list(versions.UNPINNED),
            "env_py": Path(__file__).read_text(), "python": sys.version}


def build(*, env: Path = ENV, quiet: bool = True) -> float:
    """Build the simulated runtime from scratch; returns the seconds it took."""
    t0 = time.perf_counter()
    uv = uv_exe()
    heavy, light = torch_closure()
    if env.exists():
        shutil.rmtree(env)
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    q = ["-q"] if quiet else []
    subprocess.run([uv, "venv", *q, "--seed", "--python", base_python, str(env)], check=True)
    link_torch(heavy)
    sp = site_packages(env)
    (sp / "_colab_sim_torch.pth").write_text(f"{TORCH_LINKS}\n")
    overrides = env / "overrides.txt"  # never install these: they come from the links above
    overrides.write_text("".join(f"{name} ; sys_platform == 'never'\n" for name in sorted(heavy)))
    reqs = env / "requirements.txt"
    reqs.write_text("\n".join(versions.requirement_lines() + list(versions.UNPINNED) + light) + "\n")
    cmd = [uv, "pip", "install", *q, "--python", str(env_python(env)), "--override", str(overrides),
           "-r", str(reqs)]
    subprocess.run(cmd, check=True, env=dict(os.environ, UV_NO_PROGRESS="1"))
    have = verify(env_python(env), absent=versions.ABSENT_IN_COLAB + ("gapkit",))
    for name in versions.KEPT:  # the kept packages are the main .venv's, through the links
        where = subprocess.run([str(env_python(env)), "-c", f"import {name}; print({name}.__file__)"],
                               check=True, capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(TORCH_LINKS)):
            raise SystemExit(f"[colab-sim] {name} imports from {where}, not from the links in {TORCH_LINKS}")
    (env / STAMP_NAME).write_text(json.dumps(_stamp_content()))
    (env / BASE_NAME).write_text(json.dumps(have, indent=1, sort_keys=True))
    seconds = time.perf_counter() - t0
    log(f"environment {env.relative_to(ROOT)} built in {seconds:.1f} s: "
        + ", ".join(f"{k} {have.get(k, '?')}" for k in ("numpy", "transformers", "datasets", "ipywidgets", "torch")))
    return seconds
