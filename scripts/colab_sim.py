#!/usr/bin/env python
"""Simulate a student's Colab runtime and run the published notebooks in it (issue 12).

Subcommands
-----------
env     build the simulated runtime ``_build/colab-env`` (Colab's package versions, the table in
        ``scripts/colab_sim/versions.py``; torch/torchvision linked from ``.venv``) and check it
hub     write the Hub stand-ins (random-weight checkpoints, dataset copies) to ``_build/colab-sim/hub``
run     build the runtime and the stand-ins if needed, then execute every published notebook
        (``_build/site/_extra/notebooks/*.ipynb``, what the Colab badges open), each in a fresh
        simulated runtime, and check every student copy (``notebooks/student/*.ipynb``): up to its
        first exercise stub, where Colab's Run all stops, its code cells are those of its chapter,
        which ran (``--students run`` executes each copy to its first stub too); a failure prints
        ``[colab-sim] FAILED <notebook>: cell N: Ename: message`` and exits 1
all     the same as run (``make test`` runs this after ``book.py execute``)

Options of run/all: ``--only 03 05`` (notebooks whose name contains one of these),
``--shared-runtime`` (one environment for all notebooks: faster, less faithful),
``--worktree`` (install gapkit from the working tree's tracked files instead of HEAD),
``--patch FILE`` (a ``git diff`` applied on top in the clone: try a gapkit fix before making it),
``--kernel-env KEY=VALUE ...`` (extra kernel environment variables, for experiments),
``--students static|run`` (check the student copies against their chapters' runs, or run them too).

Errors named ``ClaimError`` (gapkit.notebook.claim: a sentence its page's numbers do not support)
are listed but do not fail a notebook: the stand-ins' weights are random. Any other error does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from colab_sim import env, runner  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("env")
    sub.add_parser("hub").add_argument("--force", action="store_true")
    for name in ("run", "all"):
        p = sub.add_parser(name)
        p.add_argument("--only", nargs="*")
        p.add_argument("--notebooks", type=Path, help="folder of published notebooks (default: _build/site/_extra/notebooks)")
        p.add_argument("--shared-runtime", action="store_true")
        p.add_argument("--students", choices=["static", "run"], default="static",
                       help="check each student copy against its chapter's run (default) or run it to its first stub")
        p.add_argument("--worktree", action="store_true")
        p.add_argument("--patch", type=Path, help="a git diff applied to the clone the install cell installs from")
        p.add_argument("--kernel-env", nargs="*", default=[], metavar="KEY=VALUE",
                       help="extra kernel environment variables, for experiments (Colab sets none of them)")
    args = parser.parse_args(argv)
    if args.cmd == "env":
        env.build()
        return 0
    if args.cmd == "hub":
        if not env.ENV.exists():
            env.build()
        runner.build_standins(force=args.force)
        return 0
    seconds = env.build()  # every run starts from a fresh runtime
    extra = dict(kv.split("=", 1) for kv in args.kernel_env)
    notebooks = sorted(args.notebooks.glob("*.ipynb")) if args.notebooks else None
    return runner.run(notebooks, only=args.only, fresh_env=not args.shared_runtime, worktree=args.worktree,
                      env_seconds=seconds, kernel_env=extra, patch=args.patch, students=args.students)


if __name__ == "__main__":
    sys.exit(main())
