"""Live module state for the subpackages: one home per mutable value, read through the package.

A subpackage (``encoders``, ``contrastive``, ``train``, ``geometry``) keeps each piece of mutable
state (a registry, a memo, the thread setting of a running sweep) in the private module that sets
it. ``gapkit.<package>.<name>`` still reads it, at the moment it is read, through the module
``__getattr__`` this builds (PEP 562), so the package never holds a stale copy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Mapping


def live_state(package: str, namespace: Mapping[str, Any],
               homes: Mapping[str, ModuleType]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``(__getattr__, __dir__)`` of ``package``: ``homes`` maps each state name to the module that holds it.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message).
    namespace : mapping
        The package's ``globals()`` (for ``dir()``).
    homes : mapping of str to module
        Each live name and its one home.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(home, name)

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
