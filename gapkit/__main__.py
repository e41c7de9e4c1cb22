"""``python -m gapkit``: the ``gapkit`` command line (:mod:`gapkit.cli`)."""

from gapkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
