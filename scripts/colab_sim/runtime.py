"""What makes the simulated runtime look like Colab to a notebook.

- a stand-in ``google.colab`` package in the environment's site-packages, imported when the
  kernel starts (an IPython startup file), so ``"google.colab" in sys.modules`` holds as in Colab
  and ``COLAB_RELEASE_TAG`` is set, as Colab sets it;
- a local clone of this repository's HEAD, tagged ``v<gapkit version>`` there, which the install
  cell's ``git+https://github.com/...@v<version>`` reaches through git's ``url.<base>.insteadOf``
  (given to the kernel as ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_0``/``GIT_CONFIG_VALUE_0``: the
  real git configuration is never touched);
- a kernel spec for the environment's python with all of that in its environment, plus
  ``HF_ENDPOINT`` pointing at the loopback Hub stand-in and ``GAPKIT_SCALE`` (:data:`SIM_SCALE`),
  the one deliberate difference from a student's runtime: CPU time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from .env import BUILD, ENV, ROOT, env_python, site_packages

SIM = BUILD / "colab-sim"
CLONE = SIM / "gapbook.git"
IPYTHONDIR = SIM / "ipython"
KERNELS = SIM / "jupyter"
KERNEL_NAME = "colab-sim"
COLAB_RELEASE_TAG = "release-colab-sim"

#: Sizes of the full profile in the simulation: CPU-only, so the chapters' ``profile.n(...)`` sizes
#: are scaled as in the CI profile. Read by ``gapkit.profile.resolve_profile`` where it supports
#: ``GAPKIT_SCALE`` (the chapters' code path is the same at any scale; a Colab student sets none).
SIM_SCALE = "0.25"

GOOGLE_COLAB_INIT = '''"""Stand-in for Colab's google.colab package (gapbook's Colab simulation).

Only its presence matters: the chapters' install cell and gapkit.profile.in_colab() test for
"google.colab" in sys.modules, which Colab's kernel has imported at start-up.
"""

__version__ = "0.0.1a2"
SIMULATED = True
'''

STARTUP = "import google.colab  # Colab's kernel has it imported before the first cell (gapbook's Colab simulation)\n"


def install_google_colab(env: Path = ENV) -> Path:
    """``google/colab/__init__.py`` in site-packages (``google`` stays a namespace package: protobuf shares it)."""
    pkg = site_packages(env) / "google" / "colab"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(GOOGLE_COLAB_INIT)
    return pkg


def write_ipython_startup(ipython_dir: Path = IPYTHONDIR) -> Path:
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    path = startup / "00-google-colab.py"
    path.write_text(STARTUP)
    return path


def repo_url() -> str:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def gapkit_version() -> str:
    return re.search(r'__version__ = "([^"]+)"', (ROOT / "gapkit" / "__init__.py").read_text()).group(1)


def make_clone(worktree: bool = False, patch: Path | None = None) -> tuple[Path, str, str]:
    """A bare clone of HEAD with the tag ``v<gapkit version>``; returns ``(path, tag, commit)``.

    ``worktree=True`` commits the working tree's tracked files on top of HEAD in the clone first
    (for trying uncommitted changes; CI's fresh clone has none); ``patch`` (a ``git diff``) is
    applied on top in the clone (for trying a fix before making it). The repository itself is
    never changed.
    """
    if CLONE.exists():
        shutil.rmtree(CLONE)
    CLONE.parent.mkdir(parents=True, exist_ok=True)
    run = dict(check=True, capture_output=True, text=True)
    subprocess.run(["git", "clone", "-q", "--bare", "--no-local", str(ROOT), str(CLONE)], **run)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], **run).stdout.strip()
    commit = head
    if worktree or patch is not None:
        tmp = SIM / "worktree-commit"
        if tmp.exists():
            shutil.rmtree(tmp)
        subprocess.run(["git", "clone", "-q", str(CLONE), str(tmp)], **run)
        files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], **run).stdout.split("\0")
        for f in filter(None, files if worktree else []):
            src, dst = ROOT / f, tmp / f
            if src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
            elif dst.exists():
                dst.unlink()
        if patch is not None:
            subprocess.run(["git", "-C", str(tmp), "apply", str(Path(patch).resolve())], **run)
        ident = ["-c", "user.name=colab-sim", "-c", "user.email=colab-sim@localhost"]
        subprocess.run(["git", "-C", str(tmp), "add", "-A"], **run)
        subprocess.run(["git", "-C", str(tmp), *ident, "commit", "-q", "--allow-empty", "-m", "working tree"], **run)
        subprocess.run(["git", "-C", str(tmp), "push", "-q", "origin", "HEAD:refs/heads/worktree"], **run)
        commit = subprocess.run(["git", "-C", str(tmp), "rev-parse", "HEAD"], **run).stdout.strip()
        shutil.rmtree(tmp)
    tag = f"v{gapkit_version()}"
    subprocess.run(["git", "-C", str(CLONE), "tag", "-f", tag, commit], **run)
    return CLONE, tag, commit


def git_env(clone: Path = CLONE) -> dict[str, str]:
    """Environment variables that send the install cell's git URL to the local clone."""
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{clone.as_uri()}.insteadOf",
        "GIT_CONFIG_VALUE_0": repo_url(),
        "GIT_TERMINAL_PROMPT": "0",
    }


def kernel_env(hub_endpoint: str, cache: Path) -> dict[str, str]:
    """What the kernel's environment adds to (or takes from) the runner's."""
    return {
        **git_env(),
        "IPYTHONDIR": str(IPYTHONDIR),
        "COLAB_RELEASE_TAG": COLAB_RELEASE_TAG,
        "HF_ENDPOINT": hub_endpoint,
        "HF_HOME": str(cache / "huggingface"),
        "HF_TOKEN": "hf_colab_sim_student",  # a student with a token (MedSigLIP is gated on the Hub)
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "GAPKIT_CACHE": str(cache / "gapkit"),
        "GAPKIT_SCALE": SIM_SCALE,
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
    }


#: runner variables a Colab kernel has no reason to see (the book runner's and make's choices)
DROP = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "GAPKIT_PROFILE", "GAPKIT_CACHE",
        "GAPKIT_DATA", "GAPKIT_DATA_URL",
        "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "HF_HOME", "HF_HUB_CACHE")


def write_kernelspec(env: Path, extra_env: dict[str, str]) -> Path:
    """A kernel spec named ``colab-sim`` for the environment's python; returns its JUPYTER_PATH dir."""
    spec_dir = KERNELS / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(env_python(env)), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (simulated Colab)",
        "language": "python",
        "env": extra_env,
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=2))
    return KERNELS


def kernel_process_env(extra_env: dict[str, str]) -> dict[str, str]:
    """The full environment a kernel starts with: the runner's, less :data:`DROP`, plus ``extra_env``."""
    env = {k: v for k, v in os.environ.items() if k not in DROP}
    path = env.get("PATH", "")
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in path.split(os.pathsep) if p != venv_bin)
    env.update(extra_env)
    return env
