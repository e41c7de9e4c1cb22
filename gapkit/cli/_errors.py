"""The command line's one error type: a one-line message that names the input and the fix (exit status 2)."""

from __future__ import annotations


class CLIError(Exception):
    """Bad input to the ``gapkit`` command line; :func:`gapkit.cli.main` prints it as one line and exits 2."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # one line, whatever the message held
