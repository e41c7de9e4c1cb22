"""Release the book: tag ``v<gapkit version>`` and publish the built site, in one command.

``python scripts/book.py release --remote <git url or path>`` (or ``make release REMOTE=...``):

1. **Checks** that the release is consistent, before anything is written: the worktree is clean
   (nothing uncommitted, no untracked files), HEAD is on ``repository.branch`` (``_config.yml``),
   every chapter's Colab install cell is the one :func:`_common.colab_cell_source` renders, so it
   installs ``gapkit[colab] @ git+<repository.url>@v<version>`` with ``<version>`` the
   ``__version__`` of ``gapkit/__init__.py``, and the tag ``v<version>``, where it already exists
   (here or on the remote), marks HEAD. A tag that marks an earlier commit means the version was
   not raised: the command stops and says so.
2. **Builds** the book (``execute`` then ``html``), unless ``--skip-build`` is given; then
   ``_build/html`` must already hold a build of HEAD. Either way the published notebooks in
   ``_build/html/notebooks/`` must be exactly what the chapters at HEAD convert to
   (:func:`colab_notebook.publish_notebook`): a badge never opens a notebook of another version.
3. **Tags** HEAD ``v<version>`` (annotated), unless the tag is there already.
4. **Publishes**: one commit whose tree is exactly ``_build/html`` plus an empty ``.nojekyll`` (so
   GitHub Pages serves ``_static/`` as it is), made with a temporary index and git plumbing, on top
   of the remote's ``repository.published_branch`` (default ``gh-pages``) when it exists. Then one
   atomic push sends the branch, the tag and the site commit to the remote: all three or none.

``--dry-run`` does the checks (and the build unless ``--skip-build``), makes the site commit
object and prints what it would push, without tagging or pushing. Running the command again at the
same commit is safe: the tag is reused and an unchanged site adds no commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from _common import (
    ROOT, colab_cell_problems, colab_install_spec, colab_url, gapkit_version, load_config, notebook_chapters,
    published_branch,
)

__all__ = ["Plan", "ReleaseError", "check_release", "check_site", "release", "site_commit"]


class ReleaseError(RuntimeError):
    """A release that must not go ahead; the message says what is wrong and how to fix it."""


def git(root: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run ``git -C root args``; return its stdout without the trailing newline.

    Raises
    ------
    ReleaseError
        When git exits non-zero and ``check`` is set, with git's own message.
    """
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout.rstrip("\n") if proc.returncode == 0 else ""


@dataclass(frozen=True)
class Plan:
    """What a release pushes: the branch, the tag and the site commit for the published branch."""

    remote: str
    branch: str
    head: str
    tag: str
    tag_exists: bool  # here
    remote_has_tag: bool
    published_branch: str
    install_spec: str


def _remote_refs(root: Path, remote: str, *refs: str) -> dict[str, str]:
    proc = subprocess.run(["git", "-C", str(root), "ls-remote", remote, *refs], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(f"cannot read the remote {remote!r}: {proc.stderr.strip()} "
                           "(give a git URL or path that exists, e.g. --remote git@github.com:owner/repo.git)")
    out = {}
    for line in proc.stdout.splitlines():
        sha, ref = line.split("\t", 1)
        out[ref] = sha
    return out


def check_release(root: Path, remote: str) -> Plan:
    """Step 1: everything that must agree before a release; returns what it will push.

    Raises
    ------
    ReleaseError
        Naming the first disagreement and its fix.
    """
    if Path(git(root, "rev-parse", "--show-toplevel")).resolve() != root.resolve():
        raise ReleaseError(f"{root} is not the top of a git checkout")
    cfg = load_config(root)
    version = gapkit_version(root)
    tag = f"v{version}"
    branch = cfg["repository"].get("branch", "main")

    dirty = git(root, "status", "--porcelain", "--untracked-files=normal").splitlines()
    if dirty:
        shown = "; ".join(line[3:] for line in dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise ReleaseError(f"the worktree is not clean ({len(dirty)} changed or untracked: {shown}): "
                           "commit or remove them, so that the tag marks exactly what is published")
    current = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if current != branch:
        raise ReleaseError(f"HEAD is on {current or 'no branch (detached)'}, but releases are made from "
                           f"repository.branch = {branch!r} (_config.yml): git checkout {branch}")
    problems = colab_cell_problems(root)
    if problems:
        raise ReleaseError("the Colab install cells do not install the version being released "
                           f"({colab_install_spec(root)}): " + "; ".join(problems)
                           + ". Run: python scripts/book.py colab-cell --write, then commit")

    head = git(root, "rev-parse", "HEAD")
    local = git(root, "rev-parse", "--quiet", "--verify", f"refs/tags/{tag}^{{commit}}", check=False)
    if local and local != head:
        raise ReleaseError(f"the tag {tag} already marks {local[:12]}, an earlier commit, not HEAD "
                           f"({head[:12]}): raise __version__ in gapkit/__init__.py, run "
                           "python scripts/book.py colab-cell --write, commit, and release again")
    refs = _remote_refs(root, remote, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}")
    theirs = refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")
    if theirs and theirs != head:
        raise ReleaseError(f"the remote already has the tag {tag} at {theirs[:12]}, not at HEAD ({head[:12]}): "
                           "raise __version__ in gapkit/__init__.py, run python scripts/book.py colab-cell "
                           "--write, commit, and release again")
    return Plan(remote, branch, head, tag, bool(local), bool(theirs), published_branch(cfg), colab_install_spec(root))


def check_site(root: Path, html: Path) -> list[str]:
    """Step 2's check: what is wrong with the built site in ``html`` (empty: ready to publish).

    Every chapter's badge path ``notebooks/<chapter>.ipynb`` must exist and hold exactly the
    notebook :func:`colab_notebook.publish_notebook` makes from the chapter at HEAD.
    """
    import nbformat
    from colab_notebook import PublishError, publish_notebook, site_index

    if not (html / "index.html").exists():
        return [f"{html / 'index.html'} does not exist"]
    cfg = load_config(root)
    site = site_index(cfg, root)
    problems = []
    for chapter in notebook_chapters(root):
        badge_path = colab_url(cfg, chapter).split(f"/blob/{published_branch(cfg)}/", 1)[1]
        built = html / badge_path
        if not built.exists():
            problems.append(f"{badge_path} (what the badge of {chapter.name} opens) is missing")
            continue
        try:
            want = nbformat.writes(publish_notebook(chapter, cfg, root, site=site))
        except PublishError as err:
            problems.append(str(err))
            continue
        if built.read_text() != want:
            problems.append(f"{badge_path} is not the published form of {chapter.relative_to(root)} at HEAD")
    return problems


def site_commit(root: Path, html: Path, message: str, parent: str | None) -> str:
    """Step 4's commit: tree = ``html`` plus ``.nojekyll``, on ``parent``; the parent itself if nothing changed.

    Uses a temporary index, so neither the checkout's index nor its files are touched.
    """
    git_dir = git(root, "rev-parse", "--absolute-git-dir")
    with tempfile.TemporaryDirectory(prefix="gapbook-release-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(html, f"--git-dir={git_dir}", f"--work-tree={html}", "add", "--all", "--force", ".", env=env)
        if not (html / ".nojekyll").exists():
            empty = subprocess.run(["git", "-C", str(root), "hash-object", "-w", "--stdin"], input="",
                                   capture_output=True, text=True, check=True).stdout.strip()
            git(root, "update-index", "--add", "--cacheinfo", f"100644,{empty},.nojekyll", env=env)
        tree = git(root, "write-tree", env=env)
    if parent and git(root, "rev-parse", f"{parent}^{{tree}}") == tree:
        return parent
    return git(root, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message)


def release(remote: str, root: Path = ROOT, build: Callable[[], int] | None = None,
            dry_run: bool = False, out: Callable[[str], None] = print) -> Plan:
    """Check, build, tag and publish; see the module docstring.

    Parameters
    ----------
    remote : str
        A git URL, path or remote name to push to.
    root : Path
        The checkout to release.
    build : callable, optional
        Builds ``_build/html`` and returns an exit status (``execute`` + ``html``); ``None``
        publishes the existing build (``--skip-build``).
    dry_run : bool
        Check and prepare, but neither tag nor push.
    out : callable
        Where progress lines go.

    Raises
    ------
    ReleaseError
        When a check fails, the build fails, or the push is refused; nothing is pushed then.
    """
    plan = check_release(root, remote)
    out(f"[release] {plan.tag} at {plan.head[:12]} on {plan.branch}; the Colab cell installs {plan.install_spec}")
    if build is not None:
        rc = build()
        if rc != 0:
            raise ReleaseError(f"the build failed (exit {rc}); nothing was tagged or pushed")
    html = root / "_build" / "html"
    problems = check_site(root, html)
    if problems:
        fix = "run the release without --skip-build" if build is None else "see the build's output above"
        raise ReleaseError(f"{html} is not a build of HEAD: " + "; ".join(problems) + f" ({fix})")
    pub_ref = f"refs/heads/{plan.published_branch}"
    parent = None
    if _remote_refs(root, remote, pub_ref):
        git(root, "fetch", "--quiet", "--no-tags", remote, pub_ref)
        parent = git(root, "rev-parse", "FETCH_HEAD")
    commit = site_commit(root, html, f"Publish {plan.tag} ({plan.head[:12]}) from _build/html", parent)
    push = ["push", "--atomic", remote, f"refs/heads/{plan.branch}:refs/heads/{plan.branch}",
            f"refs/tags/{plan.tag}:refs/tags/{plan.tag}", f"{commit}:{pub_ref}"]
    if dry_run:
        out(f"[release] dry run: would tag {plan.tag}" + (" (exists)" if plan.tag_exists else "")
            + f" and run: git {' '.join(push)}")
        return plan
    if plan.remote_has_tag and not plan.tag_exists:  # released from another clone: reuse that tag
        git(root, "fetch", "--quiet", remote, f"refs/tags/{plan.tag}:refs/tags/{plan.tag}")
    elif not plan.tag_exists:
        git(root, "tag", "--annotate", plan.tag, "--message", f"gapbook {plan.tag}", plan.head)
    git(root, "push", "--quiet", *push[1:])
    out(f"[release] pushed {plan.branch}, {plan.tag} and {plan.published_branch} ({commit[:12]}) to {remote}")
    return plan


def main_release(remote: str, skip_build: bool, dry_run: bool, build: Callable[[], int]) -> int:
    """The ``release`` subcommand: 0 on success, 1 with the reason on stderr."""
    try:
        release(remote, ROOT, None if skip_build else build, dry_run)
    except ReleaseError as err:
        print(f"[release] {err}", file=sys.stderr)
        return 1
    return 0
