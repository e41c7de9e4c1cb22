"""The loaders' errors, and turning the Hub's and broken checkpoints' exceptions into them (messages say the fix)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator


class EncoderUnavailableError(RuntimeError):
    """The requested encoder cannot be loaded here (no network, no local copy, missing package).

    The message names the model and what to do: run with internet access (e.g. in
    Colab), pass a local checkpoint with ``path=...``, or use an offline stand-in
    (``random:ViT-B-32`` or ``mini-clip``).
    """


class GatedModelError(EncoderUnavailableError):
    """The model is gated on the Hugging Face Hub and no accepted token was found."""


class CheckpointError(ValueError):
    """A local checkpoint file is truncated, corrupted or not a checkpoint; the message names the file and the fix."""


_OFFLINE_HINT = (
    "To use it: (1) run with internet access (e.g. in Google Colab); or (2) download the checkpoint "
    "once and pass the local copy: load_encoder({name!r}, path='/path/to/checkpoint'); or (3) use an "
    "offline stand-in: load_encoder('random:ViT-B-32') (randomly initialised CLIP towers) or "
    "load_encoder('mini-clip') (a small CLIP trained on the fly)."
)


def _gated_message(name: str, source: str) -> str:
    repo = source.split("hf-hub:")[-1]
    token_note = ""
    try:
        from huggingface_hub import get_token

        if get_token() is None:
            token_note = " No Hugging Face token was found on this machine."
    except Exception:  # pragma: no cover - very old huggingface_hub
        pass
    return (
        f"Encoder {name!r} ({repo}) is a gated model on the Hugging Face Hub: downloading it needs an "
        f"access token from an account that accepted the model's terms.{token_note} To get access: "
        f"(1) open https://huggingface.co/{repo} while logged in and accept the terms of use; "
        "(2) log in on this machine with `huggingface-cli login` (or `hf auth login`), or set the "
        "HF_TOKEN environment variable (in Colab: add HF_TOKEN under Secrets and allow notebook access); "
        f"(3) call load_encoder({name!r}) again. Alternatively pass a local copy with path=..., or use an "
        "offline stand-in: 'random:ViT-B-32' or 'mini-clip'."
    )


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _classify_hub_error(exc: BaseException) -> str | None:
    """Return ``"gated"``, ``"offline"``, ``"missing"`` or ``None`` (not a hub problem)."""
    names = []
    texts = []
    for e in _exception_chain(exc):
        names.extend(c.__name__ for c in type(e).__mro__)
        texts.append(str(e).lower())
    text = " ".join(texts)
    if "GatedRepoError" in names or "gated repo" in text or "is gated" in text or "restricted" in text:
        return "gated"
    offline_types = {
        "LocalEntryNotFoundError",
        "OfflineModeIsEnabled",
        "ConnectionError",
        "ConnectError",
        "ConnectTimeout",
        "TimeoutException",
        "ReadTimeout",
        "NetworkError",
    }
    if offline_types.intersection(names) or any(
        s in text
        for s in (
            "couldn't connect",
            "could not connect",
            "offline mode",
            "hf_hub_offline",
            "outgoing traffic has been disabled",
            "name or service not known",
            "temporary failure in name resolution",
        )
    ):
        return "offline"
    if {"RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError"}.intersection(names):
        return "missing"
    return None


def _bad_checkpoint_file(path: str | os.PathLike) -> tuple[Path, str] | None:
    """The first file of a local checkpoint (a file or a folder) that cannot be read, with the reason; else None.

    JSON files must parse; a safetensors file needs a valid header whose tensors fit in the file;
    a torch file (.bin/.pt/.pth) must be a readable zip archive (or, in the legacy format, load).
    Only called after a load failed, to say which file is at fault.
    """
    import struct
    import zipfile

    root = Path(path)
    files = [root] if root.is_file() else sorted(f for f in root.iterdir() if f.is_file()) if root.is_dir() else []
    for f in files:
        suffix = f.suffix.lower()
        if suffix not in (".json", ".safetensors", ".bin", ".pt", ".pth"):
            continue
        size = f.stat().st_size
        if size == 0:
            return f, "empty (zero-length)"
        try:
            if suffix == ".json":
                json.loads(f.read_text(encoding="utf-8"))
            elif suffix == ".safetensors":
                with open(f, "rb") as fh:
                    head = fh.read(8)
                    n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
                    if n <= 0 or 8 + n > size:
                        return f, "not a valid safetensors file (bad header length)"
                    header = json.loads(fh.read(n))
                ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
                if 8 + n + max(ends, default=0) > size:
                    return f, f"truncated ({size} bytes, its header describes {8 + n + max(ends)})"
            elif zipfile.is_zipfile(f):
                with zipfile.ZipFile(f) as zf:
                    bad = zf.testzip()
                if bad is not None:
                    return f, f"corrupted (member {bad} fails its CRC check)"
            else:
                import torch

                torch.load(f, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any way a file can be unreadable
            return f, f"not readable ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
    return None


def _wrong_weights(exc: BaseException) -> bool:
    """torch's error for a state dict whose keys or shapes do not match the model (a valid file, the wrong model)."""
    text = str(exc)
    return isinstance(exc, (RuntimeError, KeyError, ValueError)) and (
        "Error(s) in loading state_dict" in text or "Missing key(s)" in text or "Unexpected key(s)" in text
        or "size mismatch" in text)


@contextlib.contextmanager
def _checkpoint_errors(name: str, local: str | os.PathLike | None) -> Iterator[None]:
    """Turn a library's error on a broken local checkpoint into :class:`CheckpointError` naming the bad file."""
    try:
        yield
    except (EncoderUnavailableError, CheckpointError):
        raise
    except Exception as exc:
        if local is None or not os.path.exists(local):
            raise
        found = _bad_checkpoint_file(local)
        if found is None and _wrong_weights(exc):
            lines = [ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()]
            raise CheckpointError(
                f"Could not load encoder {name!r}: {local} is a readable checkpoint, but its weights are not this "
                f"architecture's ({'; '.join(lines)[:300] or str(exc)[:300]}). Pass the architecture the file was "
                "saved from (open_clip:<arch> with path=, e.g. 'open_clip:ViT-B-16'), or a checkpoint of this one."
            ) from exc
        if found is None:
            raise
        f, reason = found
        cause = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        raise CheckpointError(
            f"Could not load encoder {name!r}: the checkpoint file {f} is {reason}, so it could not be read; it is "
            "truncated, corrupted or not a checkpoint. Replace it with a complete copy: download it again (delete "
            "the file or folder and re-download, e.g. `huggingface-cli download <repo> --local-dir <folder>`) or "
            f"re-save the model (save_pretrained / torch.save). (cause: {cause})"
        ) from exc


@contextlib.contextmanager
def _hub_errors(name: str, source: str, *, gated: bool = False) -> Iterator[None]:
    """Turn the Hub's exceptions into :class:`EncoderUnavailableError` naming ``name`` and the fix."""
    try:
        yield
    except EncoderUnavailableError:
        raise
    except Exception as exc:
        kind = _classify_hub_error(exc)
        if kind is None:
            raise
        cause = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        if kind == "gated":
            raise GatedModelError(_gated_message(name, source) + f" (cause: {cause})") from exc
        if kind == "offline":
            msg = (
                f"Could not load encoder {name!r} from {source}: the Hugging Face Hub is unreachable "
                "(no network, or HF_HUB_OFFLINE=1) and the files are not in the local Hub cache. "
                + _OFFLINE_HINT.format(name=name)
            )
            if gated:
                msg += " Note: " + _gated_message(name, source)
            raise EncoderUnavailableError(msg + f" (cause: {cause})") from exc
        msg = (
            f"Could not load encoder {name!r}: {source} was not found on the Hugging Face Hub (check the "
            "spelling; a private or gated repository also needs a token: `huggingface-cli login` or HF_TOKEN). "
            + _OFFLINE_HINT.format(name=name)
        )
        raise EncoderUnavailableError(msg + f" (cause: {cause})") from exc
