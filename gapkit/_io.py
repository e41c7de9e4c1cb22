"""File helpers shared by gapkit's caches and reports: one atomic writer, one checked reader, one cache root.

- :func:`atomic_open` writes to a temporary file beside the target and renames it over the
  target on success (readers see the old content or the new, never half a file). The
  temporary name carries the writer's host and pid (``.<name>.<host>.<pid>.<random>.tmp``),
  so a later writer can tell a temporary left by a killed process from one a live writer
  holds: :func:`sweep_stale_temps` removes the first kind (writer gone, or the file older
  than :data:`STALE_AFTER_S` when the writer cannot be checked) and never the second.
- :func:`read_checked` reads a cache file with a loader that validates it; a file that fails
  (truncated, garbage, zero-length, inconsistent) is reported with a :class:`CorruptFileWarning`
  naming it, and the caller recomputes and rewrites it.
- :func:`write_or_warn` writes a cache file, and when the folder cannot be written (read-only,
  full disk, a path that is a file) warns with a :class:`CacheUnavailableWarning` instead of
  losing the result that was just computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import tempfile
import time
import warnings
from pathlib import Path
from typing import IO, Any, Callable, Iterator

__all__ = ["atomic_open", "cache_root", "temp_path", "sweep_stale_temps", "read_checked", "write_or_warn",
           "CorruptFileWarning", "CacheUnavailableWarning", "STALE_AFTER_S"]

#: A temporary file whose writer cannot be checked (another host, an unparsable name) is stale after this long.
STALE_AFTER_S = 24 * 3600.0
#: Short id of this host in temporary names (pids are only comparable on one host).
_HOST = hashlib.blake2b(socket.gethostname().encode("utf-8", "replace"), digest_size=4).hexdigest()


class CorruptFileWarning(UserWarning):
    """A cache file could not be trusted (truncated, garbage, inconsistent); it is recomputed and rewritten."""


class CacheUnavailableWarning(UserWarning):
    """A cache could not be written (or read): the result is returned, just not cached."""


def temp_path(path: str | os.PathLike[str], pid: int | None = None) -> Path:
    """A temporary name beside ``path`` in :func:`atomic_open`'s format, for writer ``pid`` (default: this process)."""
    path = Path(path)
    token = os.urandom(4).hex()
    return path.with_name(f".{path.name}.{_HOST}.{os.getpid() if pid is None else int(pid)}.{token}.tmp")


def _parse_temp(name: str) -> tuple[str, str, int] | None:
    """``(target name, host, pid)`` of a temporary name written by :func:`atomic_open`, else None."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    parts = name[1:-4].rsplit(".", 3)
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def _writer_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a process we may not signal counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user; anything else: assume alive
        return True
    return True


def sweep_stale_temps(folder: str | os.PathLike[str], *, target: str | None = None, foreign_by_age: bool = True,
                      max_age: float = STALE_AFTER_S) -> list[Path]:
    """Remove temporary files left in ``folder`` by writers that were killed; return what was removed.

    A temporary from :func:`atomic_open` on this host is removed when its writer's pid no longer
    exists, and kept, however old, while it does (a live writer's file is never touched). One
    whose writer cannot be checked (another host, Windows, a name not in our format when
    ``foreign_by_age``) is removed only when it is older than ``max_age`` seconds. With
    ``target``, only temporaries of that file name are considered. Races with other cleaners
    are harmless (a file already gone is skipped).
    """
    removed: list[Path] = []
    try:
        entries = os.scandir(folder)
    except OSError:
        return removed
    now = time.time()
    with entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            if target is not None and not name.startswith(f".{target}."):
                continue
            parsed = _parse_temp(name)
            if parsed is None and not foreign_by_age:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if parsed is not None and parsed[1] == _HOST and os.name != "nt":  # os.kill(pid, 0) kills on Windows
                stale = not _writer_alive(parsed[2])
            else:
                stale = now - st.st_mtime > max_age
            if stale:
                try:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                except OSError:  # gone already, or not ours to remove
                    pass
    return removed


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", *, fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Readers never see a half-written file: either the old content or the new one. On any
    exception the temporary file is removed and ``path`` is left as it was. The temporary
    name carries this process's pid; stale temporaries of ``path`` left by killed writers
    are removed first (see :func:`sweep_stale_temps`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path.parent, target=path.name, foreign_by_age=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_HOST}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_checked(path: str | os.PathLike[str], load: Callable[[Path], Any], *, what: str,
                 warning: type[Warning] = CorruptFileWarning, stacklevel: int = 3) -> Any | None:
    """``load(path)``, or None when the file is missing or fails to load.

    ``load`` must raise on anything it does not trust (a truncated or garbage file, a wrong
    shape, a checksum mismatch...). A failure is reported with ``warning`` naming the file,
    ``what`` it holds and why, and saying that it is recomputed: the caller then recomputes
    and rewrites it (with :func:`atomic_open` or :func:`write_or_warn`), so one bad file never
    makes every later call fail.
    """
    path = Path(path)
    try:
        return load(path)
    except (FileNotFoundError, NotADirectoryError):  # a miss, also below a cache root that is a file (the write warns)
        return None
    except Exception as exc:  # noqa: BLE001 - every way a file can be bad
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'no details'}"
        if path.is_file() and path.stat().st_size == 0:
            reason = "the file is empty (zero-length)"
        warnings.warn(f"{what} file {path} is unusable ({reason}); recomputing it and rewriting the file.",
                      warning, stacklevel=stacklevel)
        return None


def write_or_warn(path: str | os.PathLike[str], write: Callable[[IO], None], *, what: str, mode: str = "wb",
                  stacklevel: int = 3) -> bool:
    """Write ``path`` atomically with ``write(fh)``; if the folder cannot be written, warn and return False.

    A read-only folder, a full disk or a cache path that is a file raises ``OSError`` deep in
    the write; here it becomes a :class:`CacheUnavailableWarning` that names the file and the
    reason, so the caller can return the result it computed instead of losing it.
    """
    try:
        with atomic_open(path, mode) as fh:
            write(fh)
        return True
    except OSError as exc:
        warnings.warn(
            f"{what} not cached: could not write {path} ({type(exc).__name__}: {exc}). The result is returned but "
            "will be recomputed next time; point GAPKIT_CACHE at a writable folder with free space, or pass "
            "cache=False.", CacheUnavailableWarning, stacklevel=stacklevel)
        return False


def cache_root(sub: str = "") -> Path:
    """gapkit's cache folder: ``$GAPKIT_CACHE`` if set, else the user cache dir (platformdirs), plus ``sub``."""
    env = os.environ.get("GAPKIT_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        from platformdirs import user_cache_dir

        root = Path(user_cache_dir("gapkit"))
    return root / sub if sub else root
