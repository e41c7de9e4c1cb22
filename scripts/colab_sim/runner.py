"""Execute the published notebooks the way a Colab student's runtime does.

For each notebook (the ``.ipynb`` a Colab badge opens, as ``scripts/book.py`` wrote it) the
simulation gives a fresh runtime: the Colab environment is put back as it was built (what the
previous notebook's install cell added is uninstalled; a changed base package means a rebuild),
the Hub and gapkit caches are empty, the working directory is new. The notebook runs top to bottom with
nbclient in a kernel of that environment, unmodified: nothing injects ``PROFILE``, so
``PROFILE = "auto"`` and the install cell take their Colab branches. Afterwards the
environment's Colab versions are checked again (the install must not have replaced one), and
the notebook must have resolved the ``full`` profile and installed gapkit from the tagged clone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import env as envmod
from . import hub, runtime, standins, versions
from .env import BUILD, ENV, ROOT, log

PUBLISHED = BUILD / "site" / "_extra" / "notebooks"
SIM = runtime.SIM
HUB_DIR = SIM / "hub"
REPORT = SIM / "report.json"


def _book():
    sys.path.insert(0, str(ROOT / "scripts"))
    import book  # noqa: E402  (the book runner's kernel manager and per-cell timeout)

    return book


# ----------------------------------------------------------------------------------------------
# stand-ins for the Hub


def build_standins(force: bool = False, *, env_python: Path | None = None) -> float:
    """Generate the Hub stand-ins into ``_build/colab-sim/hub`` unless they are up to date; seconds taken."""
    stamp = HUB_DIR / "_stamp.json"
    want = {"generator": standins.fingerprint(), "colab": versions.COLAB}
    if not force and stamp.exists() and json.loads(stamp.read_text()) == want:
        return 0.0
    t0 = time.perf_counter()
    tmp = HUB_DIR.with_name("hub.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    scripts = str(ROOT / "scripts")
    quiet = dict(cwd=scripts, check=True, env=dict(os.environ, PYTHONHASHSEED="0", TOKENIZERS_PARALLELISM="false",
                                                       HF_HUB_OFFLINE="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1"))
    # part 1 needs sentencepiece, tokenizers, open_clip, timm: the main .venv (this interpreter)
    subprocess.run([sys.executable, "-m", "colab_sim.standins", "tokenizers", str(tmp)], **quiet)
    # part 2 is written by the simulated runtime's own transformers and datasets
    subprocess.run([str(env_python or envmod.env_python()), "-m", "colab_sim.standins", "hub", str(tmp)], **quiet)
    if HUB_DIR.exists():
        shutil.rmtree(HUB_DIR)
    tmp.rename(HUB_DIR)
    stamp.write_text(json.dumps(want))
    seconds = time.perf_counter() - t0
    log(f"Hub stand-ins written to {HUB_DIR.relative_to(ROOT)} in {seconds:.1f} s")
    return seconds


def published_data_dir() -> Path | None:
    """Where the published embeddings (gapkit.datasets.load_published_embeddings) lie here, if anywhere."""
    for cand in (os.environ.get("GAPKIT_DATA"), str(ROOT.parent / "shared" / "data")):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


# ----------------------------------------------------------------------------------------------
# one notebook

#: Errors that do not fail a notebook: gapkit.notebook.claim's check of a sentence against the
#: page's numbers. The stand-ins have random weights, so a sentence about what a trained model
#: does cannot hold here (the book build checks every claim its own profile reaches).
TOLERATED = ("ClaimError",)


class _Stop(Exception):
    """Raised from nbclient's error hook to stop a notebook at its first real error."""


def _is_stub(ename: str | None, evalue: str) -> bool:
    """The error a student copy's exercise stub raises (``scripts/student.py``)."""
    return ename == "NotImplementedError" and evalue.startswith("Exercise ex-")


def is_student(path: Path) -> bool:
    """A published student copy (``notebooks/student/<chapter>.ipynb``)."""
    return path.parent.name == "student"


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)



def _gapkit_origin(python: Path) -> dict[str, Any]:
    code = ("import json, importlib.metadata as m\n"
            "try:\n    d = m.distribution('gapkit')\nexcept m.PackageNotFoundError:\n    print('null')\n"
            "else:\n    print(d.read_text('direct_url.json') or 'null')\n")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(python.parent)).stdout
    return json.loads(out) or {}


def reading_problems(nb: Any, name: str, *, student: bool, ran_to_end: bool) -> list[str]:
    """What the reader of an executed published notebook must not meet (``colab_notebook.reading_problems``):
    a glue name left in prose (or a paragraph that still misses a value after Run all), a hidden cell
    unfolded, an exercise number that differs from the book's, an answer in a student copy."""
    _book()
    import colab_notebook

    source = ROOT / "chapters" / f"{name}.md"
    exercises = (colab_notebook.book_exercise_numbers(source.read_text(), f"chapters/{name}")
                 if source.exists() else None)
    return colab_notebook.reading_problems(nb, student=student, exercises=exercises, executed=ran_to_end)


def execute_notebook(path: Path, *, server: hub.HubServer, clone_commit: str, fresh_env: bool,
                     reset_seconds: list[float], kernel_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one published notebook in a fresh simulated runtime; returns its record."""
    import nbformat
    from nbclient import NotebookClient

    book = _book()
    name = path.stem
    student = is_student(path)
    rec: dict[str, Any] = {"notebook": f"student/{path.name}" if student else path.name, "result": "ok"}
    if fresh_env:
        reset_seconds.append(envmod.reset())
    runtime.install_google_colab()
    key = f"student-{name}" if student else name
    work = SIM / "content" / key  # Colab's /content: a new working directory for each runtime
    cache = SIM / "cache" / key
    for d in (work, cache):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    extra = runtime.kernel_env(server.endpoint, cache)
    data = published_data_dir()
    if data is not None:  # the raw-GitHub download of the published embeddings, served from the local copy
        extra["GAPKIT_DATA_URL"] = f"{server.endpoint}/gapkit-data"
    extra.update(kernel_env or {})
    runtime.write_kernelspec(ENV, extra)
    os.environ["JUPYTER_PATH"] = str(runtime.KERNELS)

    nb = nbformat.read(path, as_version=4)
    errors: list[dict[str, Any]] = []

    def on_cell_error(cell, cell_index, execute_reply):
        content = execute_reply.get("content", {})
        if student and _is_stub(content.get("ename"), content.get("evalue", "")):
            rec["stopped_at_stub"] = f"cell {cell.get('execution_count')}: {content['evalue']}"
            raise _Stop  # Colab's "run all" stops at the first stub, as the course page says
        errors.append({"index": cell_index, "count": cell.get("execution_count"), "ename": content.get("ename"),
                       "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])})
        if content.get("ename") not in TOLERATED:
            raise _Stop  # as in Colab's "run all": the first error stops the notebook

    # allow_errors: a ClaimError (a sentence of the page its numbers do not support) is expected from
    # random weights and must not stop the notebook; every other error fails it (the first is named).
    client = NotebookClient(
        nb, timeout=book.CELL_TIMEOUT_S, kernel_name=runtime.KERNEL_NAME, allow_errors=True,
        kernel_manager_class=book.ipc_kernel_manager(), resources={"metadata": {"path": str(work)}},
        on_cell_error=on_cell_error,
    )
    t0 = time.perf_counter()
    try:
        client.execute(env=runtime.kernel_process_env(extra), cwd=str(work))
    except _Stop:
        pass
    except Exception as err:  # a cell past the timeout, a dead kernel
        count = next((c.get("execution_count") for c in reversed(nb.cells)
                      if c.cell_type == "code" and c.get("execution_count")), None)
        where = f"cell {count}: " if count else ""
        rec.update(result="error", error=f"{where}{type(err).__name__}: {str(err).strip().splitlines()[0][:300]}")
    real = [e for e in errors if e["ename"] not in TOLERATED]
    rec["claims_not_held"] = [f"cell {e['count']}: {e['evalue']}" for e in errors if e["ename"] in TOLERATED]
    if real and rec["result"] == "ok":
        e = real[0]
        rec.update(result="error", error=f"cell {e['count']}: {e['ename']}: {e['evalue']}",
                   traceback=[_strip_ansi(line) for line in "\n".join(e["traceback"]).splitlines()[-12:]])
    rec["seconds"] = round(time.perf_counter() - t0, 1)
    if student and rec["result"] == "ok" and "stopped_at_stub" not in rec:
        rec.update(result="error", error="the student copy ran to its end without reaching an exercise stub")
    out = SIM / "executed" / ("student" if student else "") / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    rec.update(book.profile_from_outputs(nb))
    rec["figures"] = book.count_figures(nb)
    problems = reading_problems(nb, name, student=student, ran_to_end=rec["result"] == "ok" and not student)
    if rec["result"] == "ok" and rec.get("profile") != "full":
        problems.append(f"PROFILE='auto' resolved to {rec.get('profile')!r}, not 'full' as in Colab")
    origin = _gapkit_origin(envmod.env_python())
    commit = origin.get("vcs_info", {}).get("commit_id")
    if commit != clone_commit:
        problems.append(f"gapkit was not installed by the install cell from the tagged clone ({origin or 'not installed'})")
    elif origin.get("url") != runtime.repo_url():
        problems.append(f"gapkit came from {origin.get('url')}, not {runtime.repo_url()}")
    after = versions.check_versions(envmod.installed_versions(envmod.env_python()),
                                    absent=versions.ABSENT_AFTER_INSTALL)
    if after:
        problems.append("the install cell changed Colab's packages: " + "; ".join(after))
    if problems and rec["result"] == "ok":
        rec.update(result="error", error="; ".join(problems))
    elif problems:
        rec["also"] = problems
    return rec


def _code_sources(nb: Any) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def check_student_statically(path: Path, chapter_record: dict[str, Any] | None) -> dict[str, Any]:
    """A student copy's record without running it: it would run as its chapter did, up to its first stub.

    The copy's code cells before its first exercise stub must be the published chapter's first code
    cells, unchanged, and the chapter must have run in this simulation (``chapter_record``), so Run
    all in Colab executes exactly what the simulation executed and then stops at the stub, which
    raises by construction. The copy's reading checks (glue names, folded cells, exercise numbers,
    no answers) run on it as published.
    """
    import nbformat

    name = path.stem
    rec: dict[str, Any] = {"notebook": f"student/{path.name}", "result": "ok", "seconds": 0.0, "static": True}
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    stub = next((i for i, c in enumerate(code) if "raise NotImplementedError(\"Exercise ex-" in c.source), None)
    chapter = _code_sources(nbformat.read(path.parent.parent / path.name, as_version=4))
    problems = []
    if stub is None:
        problems.append("the student copy has no exercise stub")
    else:
        prefix = [c.source for c in code[:stub]]
        differ = next((i for i, (a, b) in enumerate(zip(prefix, chapter)) if a != b), None)
        if len(prefix) > len(chapter) or differ is not None:
            at = differ if differ is not None else len(chapter)
            problems.append(f"code cell {at + 1} before the first stub is not the chapter's: republish the notebooks")
        rec["stopped_at_stub"] = f"code cell {stub + 1}: {code[stub].source.splitlines()[-1].strip()[:80]}"
    if chapter_record is None:
        problems.append(f"its chapter {name}.ipynb did not run in this simulation (run the two together)")
    elif chapter_record["result"] != "ok":
        problems.append(f"its chapter failed: {chapter_record.get('error', '')[:200]}")
    problems += reading_problems(nb, name, student=True, ran_to_end=False)
    if problems:
        rec.update(result="error", error="; ".join(problems))
    return rec


# ----------------------------------------------------------------------------------------------
# all notebooks


def run(notebooks: list[Path] | None = None, *, only: list[str] | None = None, fresh_env: bool = True,
        worktree: bool = False, env_seconds: float | None = None, kernel_env: dict[str, str] | None = None,
        patch: Path | None = None, students: str = "static") -> int:
    """Execute the published notebooks; prints one line per notebook and a summary; 0 when all passed.

    ``students="static"`` (``make test``) checks each student copy against its chapter's run
    (:func:`check_student_statically`) instead of running it again: before its first stub a copy
    runs the chapter's own cells. ``"run"`` executes each copy to its first stub as well.
    """
    notebooks = notebooks or sorted(PUBLISHED.glob("*.ipynb")) + sorted((PUBLISHED / "student").glob("*.ipynb"))
    if only:
        notebooks = [p for p in notebooks if any(o in p.stem for o in only)]
    if not notebooks:
        log(f"no published notebooks in {PUBLISHED.relative_to(ROOT)}: run `scripts/book.py execute` "
            "(or `scripts/book.py publish`) first")
        return 1
    builds: list[float] = [] if env_seconds is None else [env_seconds]
    if not envmod.ENV.exists():
        builds.append(envmod.build())
    resets: list[float] = []
    hub_seconds = build_standins()
    clone, tag, commit = runtime.make_clone(worktree=worktree, patch=patch)
    runtime.write_ipython_startup()
    log(f"install cell source: {runtime.repo_url()}@{tag} -> {clone.relative_to(ROOT)} ({commit[:10]})")
    records = []
    data = published_data_dir()
    with hub.HubServer(HUB_DIR, log_path=SIM / "hub-requests.log", data_dir=data) as server:
        log(f"Hub stand-in at {server.endpoint} ({len(server.repos)} repositories)")
        ran: dict[str, dict[str, Any]] = {}
        for i, path in enumerate(notebooks):
            if students == "static" and is_student(path):
                rec = check_student_statically(path, ran.get(path.stem))
                records.append(rec)
                if rec["result"] == "ok":
                    log(f"{rec['notebook']}: ok without running it: its cells up to its first stub "
                        f"({rec['stopped_at_stub'].split(':')[0]}) are those of {path.stem}.ipynb, which ran")
                else:
                    log(f"FAILED {rec['notebook']}: {rec['error']}")
                continue
            # the first notebook runs in the environment built above; every later one in a fresh one
            rec = execute_notebook(path, server=server, clone_commit=commit, fresh_env=fresh_env and i > 0,
                                   reset_seconds=resets, kernel_env=kernel_env)
            records.append(rec)
            ran[path.stem] = rec
            claims = rec.get("claims_not_held", [])
            if rec["result"] == "ok":
                note = f", {len(claims)} claim(s) not held by the random stand-ins" if claims else ""
                if "stopped_at_stub" in rec:
                    note += f"; stopped at its first stub ({rec['stopped_at_stub'].split(':')[0]}), as Run all does"
                log(f"{rec['notebook']}: ok in {rec['seconds']} s (profile {rec.get('profile')}, "
                    f"{rec['figures']} figures{note})")
            else:
                log(f"FAILED {rec['notebook']}: {rec['error']}")
                for line in rec.get("traceback", []):
                    print(f"    {line}", flush=True)
            for c in claims:
                print(f"    claim not held (stand-in weights): {c[:240]}", flush=True)
        unknown = server.unknown()
    if unknown:
        log("the Hub stand-in was asked for routes it does not serve: " + "; ".join(sorted(set(unknown))[:10]))
    failed = [r for r in records if r["result"] != "ok"]
    total = sum(r["seconds"] for r in records)
    summary = {"records": records, "env_build_seconds": [round(s, 1) for s in builds],
               "env_reset_seconds": [round(s, 1) for s in resets],
               "hub_standins_seconds": round(hub_seconds, 1), "notebook_seconds": round(total, 1),
               "deviations": {k: list(v) for k, v in versions.DEVIATIONS.items()}}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(summary, indent=2))
    env_note = ", ".join(f"{s:.1f}" for s in builds)
    reset_note = f"; resets to the fresh runtime: {sum(resets):.1f} s" if resets else ""
    log(f"{len(records) - len(failed)} of {len(records)} published notebooks ok in {total:.1f} s "
        f"(environment build: {env_note} s{reset_note}; Hub stand-ins: {hub_seconds:.1f} s)")
    for r in failed:
        print(f"[colab-sim] FAILED {r['notebook']}: {r['error']}", file=sys.stderr, flush=True)
    return 1 if failed else 0
