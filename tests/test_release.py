"""``scripts/book.py release``, end to end against a local bare repository.

Each test releases a throwaway clone of this repository (with this checkout's ``scripts/``) and a
small fake ``_build/html`` (``--skip-build``; its notebooks are the real published ones). The real
global git configuration is never read or written: ``GIT_CONFIG_GLOBAL`` points at a file in
``tmp_path``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import _common  # noqa: E402
from colab_notebook import leftover_myst  # noqa: E402

FAKE_SITE = {
    "index.html": "<html>gapbook</html>\n",
    "chapters/01_cone_effect.html": "<html>chapter 1</html>\n",
    "_static/gapbook.css": "body {}\n",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose git reads only a private global config (with an identity)."""
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tname = Release Test\n\temail = release@example.invalid\n"
                      "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    out = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    out.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1", PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return out


def git(cwd: Path, *args: str, env: dict[str, str], check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """A clone of this repository at HEAD, with this checkout's scripts and a fake built site."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(ROOT), str(clone), env=env)
    git(clone, "checkout", "--quiet", "-B", "main", env=env)
    for script in (ROOT / "scripts").glob("*.py"):  # the release code under test: this checkout's
        shutil.copy2(script, clone / "scripts" / script.name)
    if git(clone, "status", "--porcelain", env=env):
        git(clone, "add", "scripts", env=env)
        git(clone, "commit", "--quiet", "-m", "test: the scripts under test", env=env)
    html = clone / "_build" / "html"
    for name, text in FAKE_SITE.items():
        (html / name).parent.mkdir(parents=True, exist_ok=True)
        (html / name).write_text(text)
    publish(clone, env, html / "notebooks")
    return clone


@pytest.fixture
def bare(tmp_path: Path, env: dict[str, str]) -> Path:
    path = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(path), env=env)
    return path


def publish(clone: Path, env: dict[str, str], dest: Path) -> None:
    subprocess.run([sys.executable, str(clone / "scripts" / "book.py"), "publish", "--dest", str(dest)],
                   cwd=clone, env=env, check=True, capture_output=True)


def release(clone: Path, remote: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(clone / "scripts" / "book.py"), "release", "--remote", str(remote),
                           "--skip-build", *extra], cwd=clone, env=env, capture_output=True, text=True)


def remote_refs(bare: Path, env: dict[str, str]) -> dict[str, str]:
    lines = git(bare, "for-each-ref", "--format=%(refname) %(objectname)", env=env).splitlines()
    return dict(line.split() for line in lines)


@pytest.mark.slow
def test_release_publishes_the_site_and_a_tag_that_installs_gapkit(repo, bare, env, tmp_path):
    version = _common.gapkit_version(repo)
    tag = f"v{version}"
    cfg = _common.load_config(repo)
    branch = _common.published_branch(cfg)
    proc = release(repo, bare, env)
    assert proc.returncode == 0, proc.stderr
    head = git(repo, "rev-parse", "HEAD", env=env)

    # the branch and an annotated tag on HEAD
    assert git(bare, "rev-parse", "refs/heads/main", env=env) == head
    assert git(bare, "cat-file", "-t", f"refs/tags/{tag}", env=env) == "tag"
    assert git(bare, "rev-parse", f"{tag}^{{commit}}", env=env) == head

    # the published branch: exactly _build/html plus .nojekyll
    files = set(git(bare, "ls-tree", "-r", "--name-only", branch, env=env).splitlines())
    notebooks = {f"notebooks/{sub}{c.stem}.ipynb" for c in _common.notebook_chapters(repo) for sub in ("", "student/")}
    assert files == set(FAKE_SITE) | notebooks | {".nojekyll"}
    assert git(bare, "show", f"{branch}:index.html", env=env) + "\n" == FAKE_SITE["index.html"]

    # every badge's path exists in that branch and holds a plain notebook
    for chapter, student in ((c, s) for c in _common.notebook_chapters(repo) for s in (False, True)):
        url = _common.colab_url(cfg, chapter, student=student)
        prefix = f"https://colab.research.google.com/github/{_common.repo_slug(cfg)}/blob/{branch}/"
        assert url.startswith(prefix)
        nb = nbformat.reads(git(bare, "show", f"{branch}:{url.removeprefix(prefix)}", env=env), as_version=4)
        assert leftover_myst(nb) == []

    # the published install cell installs gapkit from that remote at the tag
    first_code = next(c for c in nb.cells if c.cell_type == "code").source
    spec = re.search(r'%pip install -q "([^"]+)"', first_code).group(1)
    url, ref = re.fullmatch(r"gapkit\[colab\] @ git\+(\S+)@(\S+)", spec).groups()
    assert url == cfg["repository"]["url"].rstrip("/") and ref == tag
    install_env = {**env, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{bare.as_uri()}.insteadOf",
                   "GIT_CONFIG_VALUE_0": url}
    target = tmp_path / "site-packages"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--no-cache-dir", "--target", str(target), spec],
                         cwd=tmp_path, env=install_env, capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    probe = subprocess.run([sys.executable, "-c", "import gapkit; print(gapkit.__version__); print(gapkit.__file__)"],
                           cwd=tmp_path, env={**env, "PYTHONPATH": str(target)}, capture_output=True, text=True)
    installed_version, installed_file = probe.stdout.split()
    assert installed_version == version
    assert Path(installed_file).is_relative_to(target)

    # released again at the same commit: nothing changes
    before = remote_refs(bare, env)
    again = release(repo, bare, env)
    assert again.returncode == 0, again.stderr
    assert remote_refs(bare, env) == before


def test_a_second_site_build_is_published_on_top_of_the_first(repo, bare, env):
    assert release(repo, bare, env).returncode == 0
    first = git(bare, "rev-parse", "refs/heads/gh-pages", env=env)
    (repo / "_build" / "html" / "index.html").write_text("<html>rebuilt</html>\n")
    proc = release(repo, bare, env)
    assert proc.returncode == 0, proc.stderr
    assert git(bare, "rev-parse", "refs/heads/gh-pages^", env=env) == first
    assert git(bare, "show", "gh-pages:index.html", env=env) == "<html>rebuilt</html>"


def test_release_refuses_a_dirty_worktree(repo, bare, env):
    (repo / "notes.txt").write_text("not committed\n")
    proc = release(repo, bare, env)
    assert proc.returncode == 1
    assert "worktree is not clean" in proc.stderr and "notes.txt" in proc.stderr
    assert remote_refs(bare, env) == {}
    assert git(repo, "tag", "--list", env=env) == ""


def test_release_refuses_an_install_cell_that_disagrees_with_the_version(repo, bare, env):
    init = repo / "gapkit" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "9.9.9"', init.read_text()))
    git(repo, "commit", "--quiet", "-am", "bump the version only", env=env)
    proc = release(repo, bare, env)
    assert proc.returncode == 1
    assert "gapkit[colab] @ git+https://github.com/gapbook/gapbook@v9.9.9" in proc.stderr
    assert "colab-cell --write" in proc.stderr
    assert remote_refs(bare, env) == {}


def test_release_refuses_a_tag_that_marks_an_earlier_commit(repo, bare, env):
    assert release(repo, bare, env).returncode == 0
    before = remote_refs(bare, env)
    (repo / "NEWS").write_text("later\n")
    git(repo, "add", "NEWS", env=env)
    git(repo, "commit", "--quiet", "-m", "a change after the release", env=env)
    proc = release(repo, bare, env)
    assert proc.returncode == 1
    assert f"v{_common.gapkit_version(repo)} already marks" in proc.stderr and "raise __version__" in proc.stderr
    assert remote_refs(bare, env) == before


def test_release_refuses_a_remote_tag_elsewhere(repo, bare, env):
    tag = f"v{_common.gapkit_version(repo)}"
    git(repo, "tag", "-a", tag, "-m", "old", "HEAD~1", env=env)
    git(repo, "push", "--quiet", str(bare), f"refs/tags/{tag}", env=env)
    git(repo, "tag", "-d", tag, env=env)
    proc = release(repo, bare, env)
    assert proc.returncode == 1 and "the remote already has the tag" in proc.stderr


def test_skip_build_refuses_notebooks_that_are_not_those_of_head(repo, bare, env):
    stale = repo / "_build" / "html" / "notebooks" / "01_cone_effect.ipynb"
    stale.write_text(stale.read_text().replace("Chapter 1 of", "Chapter one of"))
    (repo / "_build" / "html" / "notebooks" / "02_where_the_gap_comes_from.ipynb").unlink()
    proc = release(repo, bare, env)
    assert proc.returncode == 1
    assert "notebooks/01_cone_effect.ipynb is not the published form of chapters/01_cone_effect.md" in proc.stderr
    assert "notebooks/02_where_the_gap_comes_from.ipynb (what the badge of" in proc.stderr
    assert "without --skip-build" in proc.stderr
    assert remote_refs(bare, env) == {}


def test_dry_run_tags_and_pushes_nothing(repo, bare, env):
    proc = release(repo, bare, env, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "dry run: would tag" in proc.stdout and "push --atomic" in proc.stdout
    assert remote_refs(bare, env) == {}
    assert git(repo, "tag", "--list", env=env) == ""


def test_an_unreachable_remote_is_named(repo, env, tmp_path):
    proc = release(repo, tmp_path / "no-such-remote.git", env)
    assert proc.returncode == 1 and "cannot read the remote" in proc.stderr
