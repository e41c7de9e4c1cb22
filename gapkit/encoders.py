"""Encoders: real vision-language models and their offline stand-ins (every chapter).

One object per model with ``embed_images`` and ``embed_texts``; both return raw
(un-normalised) float32 embeddings in the joint space. Normalisation happens
in :mod:`gapkit.geometry`.

Names :func:`load_encoder` accepts
-------------------------------------
``"clip-vit-b32"``
    OpenAI CLIP ViT-B/32 through transformers (``openai/clip-vit-base-patch32``).
``"siglip-b16-384"``
    SigLIP ViT-B/16 at 384 px through transformers (``google/siglip-base-patch16-384``).
    Texts are padded to 64 tokens (``padding="max_length"``) and fed *without* an
    attention mask: that is how SigLIP was trained (the pooled token is the last
    position, which is usually padding). Needs ``sentencepiece`` (and ``protobuf``)
    for its tokenizer.
``"medsiglip-448"``
    MedSigLIP at 448 px (``google/medsiglip-448``), a SigLIP model with 64 text
    tokens. Gated on the Hub: log in (``huggingface-cli login`` or ``HF_TOKEN``)
    and accept the model's terms on its Hub page first.
``"biomedclip"``
    BiomedCLIP through open_clip
    (``hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224``), PubMedBERT
    text tower with a context length of 256 tokens.
``"open_clip:<arch>/<pretrained>"``
    Any open_clip pair, e.g. ``"open_clip:ViT-B-32/laion2b_s34b_b79k"``; also
    ``"open_clip:hf-hub:<org>/<repo>"``, or ``"open_clip:<arch>"`` with ``path=``.
``"random:<arch>"``
    A randomly initialised open_clip model (``torch.manual_seed(seed)``, keyword
    ``seed=0``) with the architecture's own tokenizer: the cone effect at
    initialisation (chapter 1), fully offline for architectures with the bundled
    CLIP tokenizer (``random:ViT-B-32``, ``random:RN50``...).
``"hf:<repo_id>"``
    Any transformers CLIP or SigLIP checkpoint on the Hub, e.g. ``"hf:openai/clip-vit-large-patch14"``.
``"mini-clip"``
    A small CLIP-style model trained in seconds (:mod:`gapkit.contrastive`).
a local path
    A transformers ``save_pretrained`` directory (CLIP or SigLIP, detected from
    ``config.json``'s ``model_type``) or an open_clip directory holding
    ``open_clip_config.json`` and weights (the Hub layout).

Every named model also takes ``path=`` to load a local copy instead of the Hub:
``load_encoder("clip-vit-b32", path="/some/dir")``,
``load_encoder("biomedclip", path="/dir/with/open_clip_config.json")``,
``load_encoder("open_clip:ViT-B-32", path="weights.pt")``.

Without network access the Hub loaders raise :class:`EncoderUnavailableError`
saying what to do (run online, pass ``path=``, or use ``random:ViT-B-32`` /
``mini-clip``); gated models raise :class:`GatedModelError`.

Device and precision
--------------------
``device="auto"`` picks CUDA when available, else CPU. ``precision="auto"`` is
bf16 on CUDA devices of compute capability 8.0 and newer, fp16 on older ones (a T4),
and fp32 on CPU.
Weights stay in fp32; lower precisions run under :func:`torch.autocast`, so
layer norms and softmaxes keep fp32 accumulation. Outputs are always float32.

Image pipeline
--------------
Images (PIL images, a uint8 array ``(n, H, W, 3)``, file paths or encoded
bytes) are preprocessed in one of two places (``preprocess_on=``, a
:func:`load_encoder` keyword and a settable attribute):

``"cpu"`` (the default on CPU)
    decoded, resized and cropped with PIL in ``DataLoader`` workers into uint8
    tensors: exactly the model's reference preprocessing. Pinned batches are
    copied to the device with ``non_blocking=True``; rescaling and normalisation
    happen there.
``"device"`` (the default on CUDA)
    JPEGs are decoded on the GPU (nvJPEG, batched), uint8 arrays and PIL images
    are copied as they are, and the resize + crop run in torch on the device
    (:mod:`gapkit._imagepipe`, PIL's filters; within one grey level of the PIL
    path for photos shrunk on both axes). A small model such as ViT-B/32 embeds
    far faster than CPU workers can decode, above all on a 2-core Colab runtime.

A float array or tensor ``(n, 3, H, W)`` is taken as already preprocessed pixel
values (see :meth:`TorchEncoder.preprocess`) and goes straight to the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import _imagepipe
from ._imagepipe import ResizeCropSpec, open_image
from ._validation import Integral, Interval, validate_params

#: constraints of the embed methods' settings (gapkit._validation.validate_params)
_EMBED_PARAMS = {"batch_size": [Interval(Integral, 1, None, closed="left")], "progress": ["boolean"]}

__all__ = [
    "Encoder",
    "TorchEncoder",
    "HFEncoder",
    "OpenCLIPEncoder",
    "EncoderUnavailableError",
    "GatedModelError",
    "CheckpointError",
    "load_encoder",
    "register_encoder",
    "available_encoders",
    "resolve_device",
    "resolve_precision",
    "transformers_composites_alpha",
    "weights_fingerprint",
]


# ----------------------------------------------------------------------------------------------
# errors


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


# ----------------------------------------------------------------------------------------------
# base class and registry


class Encoder:
    """Base class of every gapkit encoder.

    Attributes
    ----------
    name : str
        The name it was loaded by (``"clip-vit-b32"``, ``"random:ViT-B-32"``, ``"mini-clip"``...).
    model_id : str
        Where the weights came from (hub id, local path, ``"random init, seed 0"``...).
    dim : int
        Joint embedding dimension.
    device : str
    precision : str
        ``"fp32"``, ``"fp16"`` or ``"bf16"``: the compute precision (outputs are float32).
    logit_scale, logit_bias : float or None
        Kept for zero-shot scoring (``logit_scale * cos + logit_bias``); ``logit_scale``
        is already exponentiated.
    """

    name: str = ""
    model_id: str = ""
    dim: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    logit_scale: float | None = None
    logit_bias: float | None = None

    def embed_images(self, images: Any, *, batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """Embed images (PIL images, a uint8 array ``(n, H, W, 3)`` or a float tensor ``(n, 3, H, W)``)."""
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256, progress: bool = True) -> np.ndarray:
        """Embed a sequence of strings."""
        raise NotImplementedError

    def tokenize(self, texts: Sequence[str]) -> Any:
        """Tokenise ``texts`` exactly as :meth:`embed_texts` does (CPU tensors, model-ready)."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A short hash of the weights and preprocessing (part of every cache key)."""
        raise NotImplementedError

    def zero_shot_logits(self, image_emb: Any, text_emb: Any) -> np.ndarray:
        """Zero-shot logits ``logit_scale * cos(v_i, t_j) + logit_bias``, shape ``(n_images, n_texts)``.

        Rows are L2-normalised first (the model's own scoring rule). Missing
        ``logit_scale`` counts as 1 and missing ``logit_bias`` as 0.
        """
        from ._validation import as_matrix, l2_normalize

        v = l2_normalize(as_matrix(image_emb, name="image_emb", min_rows=1))
        t = l2_normalize(as_matrix(text_emb, name="text_emb", min_rows=1))
        if v.shape[1] != t.shape[1]:
            raise ValueError(f"image_emb has {v.shape[1]} dimensions but text_emb has {t.shape[1]}")
        scale = 1.0 if self.logit_scale is None else float(self.logit_scale)
        bias = 0.0 if self.logit_bias is None else float(self.logit_bias)
        return (v @ t.T) * scale + bias

    def describe(self) -> str:
        """One line for the executed page: which model produced these embeddings."""
        return f"{self.name} ({self.model_id}), {self.dim}-d, on {self.device}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


@contextlib.contextmanager
def _drop_log_records(prefix: str):
    """Drop root-logger records whose message starts with ``prefix`` inside the block."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(prefix)

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


_REGISTRY: dict[str, Callable[..., Encoder]] = {}
#: names whose factory is registered when a module is imported (imported on first use)
_LAZY: dict[str, str] = {"mini-clip": "gapkit.contrastive"}
#: prefix forms, listed by available_encoders()
_PREFIX_FORMS = ["hf:<repo_id>", "open_clip:<arch>/<pretrained>", "random:<arch>"]


def register_encoder(name: str, factory: Callable[..., Encoder]) -> None:
    """Register a factory so that ``load_encoder(name, **kw)`` calls ``factory(**kw)``.

    The factory is called as ``factory(device=..., precision=..., **kwargs)``.
    """
    _REGISTRY[name] = factory


def available_encoders() -> list[str]:
    """Names ``load_encoder`` accepts (prefix forms such as ``random:<arch>`` are listed with their prefix)."""
    return sorted(set(_REGISTRY) | set(_LAZY) | set(_PREFIX_FORMS))


def load_encoder(name: str, device: str = "auto", precision: str = "auto", **kwargs: Any) -> Encoder:
    """Load an encoder by name (see the module docstring for the names).

    Parameters
    ----------
    name : str
        A registered name (``available_encoders()``), a prefix form
        (``"random:<arch>"``, ``"open_clip:<arch>/<pretrained>"``) or a local
        checkpoint directory.
    device : str
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    precision : str
        ``"auto"`` (bf16/fp16 on CUDA, fp32 on CPU), ``"fp32"``, ``"fp16"`` or ``"bf16"``.
    **kwargs
        Passed to the loader: ``path=`` (local checkpoint instead of the Hub),
        ``seed=`` (``random:`` models), ``token=``/``revision=`` (Hub models),
        ``num_workers=`` (image DataLoader workers).

    Raises
    ------
    ValueError
        Unknown name (the message lists the available ones).
    EncoderUnavailableError
        The model cannot be loaded here (offline, gated, missing package); the
        message says what to do.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}; available: {available_encoders()}")
    if name not in _REGISTRY and name in _LAZY:
        module = _LAZY[name]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise EncoderUnavailableError(
                f"Encoder {name!r} is provided by {module}, which could not be imported ({exc})."
            ) from exc
        if name not in _REGISTRY:
            raise EncoderUnavailableError(f"{module} was imported but did not register encoder {name!r}.")
    if name in _REGISTRY:
        return _REGISTRY[name](device=device, precision=precision, **kwargs)
    if name.startswith("random:"):
        return _load_random(name, device=device, precision=precision, **kwargs)
    if name.startswith("open_clip:"):
        return _load_open_clip(name, device=device, precision=precision, **kwargs)
    if name.startswith("hf:"):
        return _load_hf_any(name, device=device, precision=precision, **kwargs)
    if os.path.exists(os.path.expanduser(name)):
        if "path" in kwargs:
            raise ValueError("pass either a path as the name or path=..., not both")
        return _load_local(os.path.expanduser(name), device=device, precision=precision, **kwargs)
    raise ValueError(
        f"unknown encoder {name!r}; available: {', '.join(available_encoders())}, "
        "or a local checkpoint directory (transformers save_pretrained or open_clip layout)."
    )


# ----------------------------------------------------------------------------------------------
# device, precision, fingerprints


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a CUDA device is available, else ``"cpu"``; other values pass through."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderUnavailableError(
            f"device={device!r} was requested but torch sees no CUDA device here; use device='auto' or 'cpu'."
        )
    return device


_PRECISIONS = {
    "fp32": "fp32",
    "float32": "fp32",
    "32": "fp32",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "16": "fp16",
    "bf16": "bf16",
    "bfloat16": "bf16",
}


def resolve_precision(precision: str, device: str) -> str:
    """The compute precision for ``precision`` on ``device``.

    ``"auto"`` → ``"bf16"`` on CUDA devices of compute capability 8.0 (Ampere) and newer,
    ``"fp16"`` on older CUDA devices, ``"fp32"`` on the CPU. A T4 (sm_75, Colab's free GPU) gets
    fp16: ``torch.cuda.is_bf16_supported()`` answers True there because bf16 can be emulated, but
    emulated bf16 is slow and cuDNN has no bf16 convolutions below sm_80.
    """
    import torch

    if precision in (None, "auto"):
        if device.startswith("cuda"):
            major, _minor = torch.cuda.get_device_capability(torch.device(device))
            return "bf16" if major >= 8 else "fp16"
        return "fp32"
    key = str(precision).lower()
    if key not in _PRECISIONS:
        raise ValueError(f"precision must be 'auto', 'fp32', 'fp16' or 'bf16', got {precision!r}")
    return _PRECISIONS[key]


def _torch_dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def weights_fingerprint(module: Any, extra: Any = None, *, samples_per_tensor: int = 256) -> str:
    """Stable short hash of a torch module's weights (plus ``extra``, e.g. the preprocessing config).

    Hashes every state-dict entry's name, shape and dtype and ``samples_per_tensor``
    evenly strided values of each tensor (cast to float32, gathered on the device
    and copied to the host in one transfer), so it costs milliseconds even for
    large models and does not depend on the device. Fine-tuning changes
    essentially every value, so it changes the fingerprint.

    Returns
    -------
    str
        16 hex characters.
    """
    import torch

    h = hashlib.sha256()
    samples = []
    with torch.no_grad():
        for key, t in module.state_dict().items():
            if not torch.is_tensor(t):
                continue
            h.update(f"{key}|{tuple(t.shape)}|{t.dtype};".encode())
            flat = t.detach().reshape(-1)
            if flat.numel() == 0:
                continue
            step = max(1, flat.numel() // samples_per_tensor)
            samples.append(flat[::step][:samples_per_tensor].to(torch.float32))
        if samples:
            h.update(torch.cat([s.to(samples[0].device) for s in samples]).cpu().numpy().tobytes())
    if extra is not None:
        h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# image decoding and the DataLoader dataset (top level so that worker processes can pickle them)


_open_image = open_image  # decoding lives in gapkit._imagepipe (shared with the device path)


class _ImageDataset:
    """Map-style dataset: item ``i`` → the transform's uint8 tensor ``(3, H, W)``."""

    def __init__(self, images: Any, transform: Callable[[Any], Any]):
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Any:
        item = self.images[i]
        try:
            return self.transform(_open_image(item))
        except Exception as exc:
            desc = item if isinstance(item, (str, os.PathLike)) else type(item).__name__
            raise ValueError(f"image {i} ({desc}): could not decode/preprocess it: {exc}") from exc


def transformers_composites_alpha() -> bool:
    """Whether the installed transformers paints transparent images onto white.

    Newer transformers 5 releases composite RGBA (and palette images with transparency) onto a
    white background before preprocessing; older ones, Colab's 5.15 among them, drop the alpha
    channel. gapkit's PIL path follows whichever is installed, found by converting one fully
    transparent black pixel (white if composited, black if alpha is dropped).
    """
    global _COMPOSITES_ALPHA
    if _COMPOSITES_ALPHA is None:
        import inspect

        from PIL import Image
        from transformers.image_transforms import convert_to_rgb

        pixel = Image.new("RGBA", (1, 1), (0, 0, 0, 0))
        kw = {"return_numpy": True} if "return_numpy" in inspect.signature(convert_to_rgb).parameters else {}
        _COMPOSITES_ALPHA = bool(np.asarray(convert_to_rgb(pixel, **kw)).reshape(-1)[0] == 255)
    return _COMPOSITES_ALPHA


_COMPOSITES_ALPHA: bool | None = None


class _HFImageTransform:
    """PIL → uint8 ``(3, H, W)`` tensor, matching transformers' PIL image processors (CLIP, SigLIP).

    Convert to RGB (transparency painted onto white or dropped, as the installed transformers
    does: :func:`transformers_composites_alpha`), resize with PIL (shortest edge → ``size`` keeping the aspect
    ratio, or straight to ``(height, width)``), centre crop with the offsets
    transformers uses (``(H - h) // 2``). Rescaling and normalisation happen on the
    device.
    """

    def __init__(self, resize: int | tuple[int, int] | None, resample: int, crop: tuple[int, int] | None, rgb: bool,
                 composite_alpha: bool):
        self.resize = resize
        self.resample = int(resample)
        self.crop = crop
        self.rgb = rgb
        self.composite_alpha = composite_alpha
        # sizes and crop offsets: the same arithmetic as the device path (mode unused here: PIL resamples)
        self.geometry = ResizeCropSpec(resize=resize, crop=crop, crop_offsets="floor")

    def __call__(self, im: Any) -> Any:
        import torch

        if self.rgb:
            im = _imagepipe.to_rgb(im, composite_alpha=self.composite_alpha)
        w, h = im.size
        new_h, new_w = self.geometry.resized_size(h, w)
        if (new_w, new_h) != (w, h):
            im = im.resize((new_w, new_h), resample=self.resample)
        arr = np.array(im, dtype=np.uint8)  # a writable copy
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if self.crop is not None:
            ch, cw = self.crop
            h, w = arr.shape[:2]
            if ch > h or cw > w:  # pad with zeros, centred, like transformers
                ph, pw = max(ch, h), max(cw, w)
                canvas = np.zeros((ph, pw, arr.shape[2]), dtype=np.uint8)
                top, left = (ph - h) // 2, (pw - w) // 2
                canvas[top : top + h, left : left + w] = arr
                arr, h, w = canvas, ph, pw
            top, left = self.geometry.crop_origin(h, w)
            arr = arr[top : top + ch, left : left + cw]
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()


class _ComposeToUint8:
    """open_clip's eval transform with ``ToTensor``/``Normalize`` replaced by ``PILToTensor`` (uint8)."""

    def __init__(self, transforms: list[Any]):
        self.transforms = transforms

    def __call__(self, im: Any) -> Any:
        for t in self.transforms:
            im = t(im)
        if im.shape[0] == 1:
            im = im.expand(3, -1, -1).contiguous()
        return im


# ----------------------------------------------------------------------------------------------
# shared torch machinery


class TorchEncoder(Encoder):
    """Batched torch inference shared by every model family.

    Subclasses set ``model``, ``name``, ``model_id``, ``dim``, ``logit_scale``,
    ``logit_bias``, the uint8 image transform (``_image_transform``), the device-side
    normalisation constants (``_rescale``, ``_mean``, ``_std``) and implement
    ``_encode_pixels``, ``_encode_tokens``, ``tokenize`` and ``_config``.
    """

    model: Any
    _image_transform: Callable[[Any], Any]
    _rescale: float = 1.0 / 255.0
    _mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    _std: tuple[float, ...] = (1.0, 1.0, 1.0)
    num_workers: int | None = None
    _resize_spec: ResizeCropSpec | None = None
    _composite_alpha: bool = False  # transparent images: painted onto white (transformers) or alpha dropped
    _force_raw_jpeg: bool = False  # tests: hand JPEGs to torchvision's decoder on the CPU too

    @property
    def _raw_jpeg(self) -> bool:
        """Hand JPEGs to the device decoder undecoded (CUDA only: on the CPU, PIL in workers is as fast)."""
        return str(self.device).startswith("cuda") or self._force_raw_jpeg

    def _setup_runtime(self, device: str, precision: str, num_workers: int | None = None,
                       preprocess_on: str = "auto") -> None:
        import torch

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.num_workers = num_workers
        self.model = self.model.to(self.device).eval()
        self.model.requires_grad_(False)
        self._dev_mean = torch.tensor(self._mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._dev_std = torch.tensor(self._std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self.preprocess_on = preprocess_on

    @property
    def preprocess_on(self) -> str:
        """Where images are decoded and resized: ``"cpu"`` or ``"device"`` (resolved from ``"auto"``).

        ``"cpu"``: PIL in DataLoader workers, exactly the model's reference
        preprocessing (transformers' image processor / open_clip's transform).
        ``"device"``: JPEGs decoded on the device (nvJPEG on CUDA) and every image
        resized and cropped there with torch (:mod:`gapkit._imagepipe`; within one
        grey level of PIL). ``"auto"`` (the default) picks ``"device"`` on CUDA when
        the model's resize has a torch equivalent, else ``"cpu"``. Settable; part of
        :meth:`fingerprint`, so cached embeddings never mix the two.
        """
        return self._preprocess_on

    @preprocess_on.setter
    def preprocess_on(self, value: str) -> None:
        spec = self._resize_spec
        if value == "auto":
            value = "device" if spec is not None and str(self.device).startswith("cuda") else "cpu"
        elif value not in ("cpu", "device"):
            raise ValueError(f"preprocess_on must be 'auto', 'cpu' or 'device', got {value!r}")
        elif value == "device" and spec is None:
            raise ValueError(
                f"{getattr(self, 'name', type(self).__name__)}: this model's image transform has no exact torch "
                "equivalent (e.g. a lanczos resize or open_clip's 'longest' resize mode); use preprocess_on='cpu'."
            )
        self._preprocess_on = value

    # -- hooks -------------------------------------------------------------------------------
    def _encode_pixels(self, pixels: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_tokens(self, tokens: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        """Preprocessing and tokenisation settings (part of the fingerprint)."""
        return {}

    # -- helpers -----------------------------------------------------------------------------
    def _autocast(self) -> Any:
        import torch

        dev_type = self.device.split(":")[0]
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=dev_type, dtype=_torch_dtype(self.precision))

    def _normalize_on_device(self, x: Any) -> Any:
        import torch

        x = x.to(torch.float32)
        if self._rescale != 1.0:
            x = x.mul_(self._rescale)
        return x.sub_(self._dev_mean).div_(self._dev_std)

    def _default_workers(self, n: int, batch_size: int) -> int:
        if self.num_workers is not None:
            return int(self.num_workers)
        if n <= batch_size:
            return 0  # one batch: worker start-up would cost more than it saves
        cpus = os.cpu_count() or 1
        if self.device.startswith("cuda"):
            return max(1, min(8, cpus - 1))
        return max(0, min(4, cpus // 2))  # leave cores for the model's own threads

    @property
    def image_size(self) -> tuple[int, int]:
        """Model input size ``(H, W)`` after preprocessing."""
        from PIL import Image

        x = self._image_transform(Image.new("RGB", (257, 311)))
        return int(x.shape[1]), int(x.shape[2])

    def preprocess(self, images: Any) -> Any:
        """Preprocess images into normalised float32 pixel values ``(n, 3, H, W)`` on the CPU.

        The result can be passed back to :meth:`embed_images` (it is then used
        as is), e.g. to time the model alone.
        """
        import torch

        items = _as_image_items(images)
        if isinstance(items, torch.Tensor):
            return items.float()
        x = torch.stack([self._image_transform(_open_image(items[i])) for i in range(len(items))])
        x = x.to(torch.float32) * self._rescale
        mean = torch.tensor(self._mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self._std, dtype=torch.float32).view(1, -1, 1, 1)
        return (x - mean) / std

    def _image_loader(self, items: Any, batch_size: int, workers: int) -> Any:
        """The DataLoader over raw image inputs: PIL preprocessing, or reading for the device path.

        Workers hand over small chunks (<= 32 images) that are copied to the device as they
        arrive and concatenated into model batches there (:meth:`_assemble`): no worker sits
        on a whole batch while the others idle at the end, and copies overlap with decoding.
        """
        from torch.utils.data import DataLoader

        chunk = batch_size if workers == 0 else batch_size // -(-batch_size // 32)
        if self.preprocess_on == "device":  # workers read files / decode non-JPEGs; JPEGs are decoded on the device
            dataset: Any = _imagepipe.RawImageDataset(items, raw_jpeg=self._raw_jpeg,
                                                      composite_alpha=self._composite_alpha)
            collate = _imagepipe.collate_list
        else:
            dataset, collate = _ImageDataset(items, self._image_transform), None
        return DataLoader(dataset, batch_size=chunk, shuffle=False, num_workers=workers,
                          pin_memory=self.device.startswith("cuda"), prefetch_factor=4 if workers > 0 else None,
                          persistent_workers=False, collate_fn=collate)

    def _part_to_device(self, part: Any) -> list[Any]:
        """One loader chunk as list items for :meth:`_assemble` (PIL path: copied to the device now)."""
        if self.preprocess_on == "device":
            return list(part)
        return [part.to(self.device, non_blocking=True)]

    def _assemble(self, pending: list[Any], first_index: int = 0) -> Any:
        """Collected chunks → one ``(B, 3, H, W)`` batch of uint8 values on the device, ready to normalise."""
        import torch

        if self.preprocess_on == "device":
            return _imagepipe.to_model_size(pending, self._resize_spec, self.device, first_index=first_index)
        return pending[0] if len(pending) == 1 else torch.cat(pending)

    # -- public API --------------------------------------------------------------------------
    @validate_params({**_EMBED_PARAMS, "num_workers": [None, Interval(Integral, 0, None, closed="left")]})
    def embed_images(
        self,
        images: Any,
        *,
        batch_size: int = 64,
        progress: bool = True,
        num_workers: int | None = None,
    ) -> np.ndarray:
        """Embed images; returns raw float32 embeddings ``(n, dim)`` (not normalised).

        Parameters
        ----------
        images : sequence or array
            PIL images, a uint8 array ``(n, H, W, 3)``, file paths, encoded image
            bytes (or Hugging Face ``{"bytes", "path"}`` dicts); or a float array /
            tensor ``(n, 3, H, W)`` of already preprocessed pixels (:meth:`preprocess`).
        batch_size : int
        progress : bool
            Show a tqdm progress bar.
        num_workers : int, optional
            DataLoader workers for decoding and preprocessing; by default up to 8 on
            CUDA, up to ``cpu_count // 2`` on CPU, and 0 for a single batch.
        """
        import torch
        from tqdm.auto import tqdm

        items = _as_image_items(images)
        n = len(items)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        cuda = self.device.startswith("cuda")
        out = torch.empty((n, self.dim), dtype=torch.float32, pin_memory=cuda)
        bar = tqdm(total=n, desc=f"{self.name}: images", unit="img", disable=not progress)
        i = 0
        with torch.inference_mode(), self._autocast():
            if isinstance(items, torch.Tensor):  # preprocessed pixel values: straight to the model
                for start in range(0, n, batch_size):
                    x = items[start : start + batch_size].to(self.device, torch.float32, non_blocking=True)
                    feats = _as_embedding(self._encode_pixels(x), "image")
                    out[start : start + len(x)].copy_(feats, non_blocking=cuda)
                    bar.update(len(x))
            elif self.preprocess_on == "device" and isinstance(items, np.ndarray):
                # a uint8 array batch: copy it as it is, resize and crop on the device
                for start in range(0, n, batch_size):
                    x = _imagepipe.array_batch(items[start : start + batch_size], self._resize_spec, self.device,
                                               cuda, self._composite_alpha)
                    feats = _as_embedding(self._encode_pixels(self._normalize_on_device(x)), "image")
                    out[start : start + len(x)].copy_(feats, non_blocking=cuda)
                    bar.update(len(x))
            else:
                workers = num_workers if num_workers is not None else self._default_workers(n, batch_size)
                pending: list[Any] = []
                n_pending = 0
                for part in self._image_loader(items, batch_size, workers):
                    pending += self._part_to_device(part)
                    n_pending += len(part)
                    if n_pending < batch_size and i + n_pending < n:
                        continue
                    x = self._assemble(pending, first_index=i)
                    pending, n_pending = [], 0
                    feats = _as_embedding(self._encode_pixels(self._normalize_on_device(x)), "image")
                    out[i : i + len(x)].copy_(feats, non_blocking=cuda)
                    i += len(x)
                    bar.update(len(x))
        if cuda:
            torch.cuda.synchronize(self.device)
        bar.close()
        return out.numpy().copy() if cuda else out.numpy()

    @validate_params(_EMBED_PARAMS)
    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256, progress: bool = True) -> np.ndarray:
        """Embed strings; returns raw float32 embeddings ``(n, dim)`` (not normalised).

        Tokenisation is the model's own (:meth:`tokenize`): truncated to its context length.
        """
        import torch
        from tqdm.auto import tqdm

        texts = _as_text_list(texts)
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        cuda = self.device.startswith("cuda")
        out = torch.empty((n, self.dim), dtype=torch.float32, pin_memory=cuda)
        bar = tqdm(total=n, desc=f"{self.name}: texts", unit="text", disable=not progress)
        with torch.inference_mode(), self._autocast():
            for start in range(0, n, batch_size):
                chunk = texts[start : start + batch_size]
                tokens = _to_device(self.tokenize(chunk), self.device)
                feats = _as_embedding(self._encode_tokens(tokens), "text")
                out[start : start + len(chunk)].copy_(feats, non_blocking=cuda)
                bar.update(len(chunk))
        if cuda:
            torch.cuda.synchronize(self.device)
        bar.close()
        return out.numpy().copy() if cuda else out.numpy()

    def fingerprint(self) -> str:
        """16 hex characters: weights (sampled, see :func:`weights_fingerprint`) + preprocessing + tokenisation.

        Memoised until a parameter or buffer is replaced or modified in place
        (tracked through the tensors' identities and version counters), so
        calling it for every cache lookup costs microseconds.
        """
        import itertools

        sig = (self.preprocess_on,) + tuple(
            (id(t), t._version) for t in itertools.chain(self.model.parameters(), self.model.buffers()))
        memo = getattr(self, "_fingerprint_memo", None)
        if memo is not None and memo[0] == sig:
            return memo[1]
        fp = weights_fingerprint(self.model, {"class": type(self).__name__, **self._config(),
                                              "preprocess_on": self.preprocess_on})
        self._fingerprint_memo = (sig, fp)
        return fp


def _as_image_items(images: Any) -> Any:
    """Normalise the accepted image containers: a torch float tensor (preprocessed) or an indexable sequence."""
    import torch

    if isinstance(images, (str, os.PathLike, bytes)) or _is_pil(images):
        raise TypeError("embed_images expects a batch of images; wrap a single image in a list: [image]")
    if isinstance(images, torch.Tensor) or (isinstance(images, np.ndarray) and images.dtype.kind == "f"):
        x = torch.as_tensor(images)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"float image input must be preprocessed pixel values of shape (n, 3, H, W), got {tuple(x.shape)}; "
                "pass raw images as PIL images or a uint8 array (n, H, W, 3) instead."
            )
        if not x.is_floating_point():
            raise ValueError("tensor image input must be float pixel values (n, 3, H, W) from encoder.preprocess()")
        from ._validation import check_float_pixels

        # NaN/inf pixel values would give NaN embeddings (and poison a cache): name the rows instead
        check_float_pixels(x, name="images (preprocessed pixel values)", value_range=None)
        return x
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise ValueError(
                f"image arrays must be uint8 of shape (n, H, W, 3) (or (n, H, W) grayscale), got dtype "
                f"{images.dtype} and shape {images.shape}"
            )
        return images
    if not hasattr(images, "__len__") or not hasattr(images, "__getitem__"):
        return list(images)
    return images


def _is_pil(x: Any) -> bool:
    try:
        from PIL import Image

        return isinstance(x, Image.Image)
    except ImportError:  # pragma: no cover
        return False


def _as_text_list(texts: Any) -> list[str]:
    from ._validation import check_texts

    if isinstance(texts, str):
        raise TypeError("embed_texts expects a sequence of strings; wrap a single string in a list: [text]")
    return check_texts(texts, name="texts")  # None/NaN are named, never embedded as "None"/"nan"


def _to_device(tokens: Any, device: str) -> Any:
    if isinstance(tokens, Mapping):
        return {k: v.to(device, non_blocking=True) for k, v in tokens.items()}
    return tokens.to(device, non_blocking=True)


def _as_embedding(out: Any, kind: str) -> Any:
    """The joint-space embedding from whatever a model's feature method returns.

    transformers 4.x returns a tensor from ``get_image_features``/``get_text_features``;
    transformers 5 returns a ``BaseModelOutputWithPooling`` whose ``pooler_output``
    holds the projected embedding (CLIP: after ``visual_projection`` /
    ``text_projection``; SigLIP: after the attention-pooling head / text head).
    """
    import torch

    if torch.is_tensor(out):
        return out
    for attr in (f"{kind}_embeds", "pooler_output"):
        value = getattr(out, attr, None)
        if value is not None:
            return value
    if isinstance(out, (tuple, list)) and len(out) > 1 and torch.is_tensor(out[1]):
        return out[1]
    raise TypeError(f"cannot find the {kind} embedding in a {type(out).__name__} output")


# ----------------------------------------------------------------------------------------------
# transformers family: CLIP and SigLIP (clip-vit-b32, siglip-b16-384, medsiglip-448)


def _size_get(size: Any, key: str) -> Any:
    """Read ``key`` from an image processor's size (a dict in transformers 4, a ``SizeDict`` in 5)."""
    if size is None:
        return None
    if isinstance(size, Mapping):
        return size.get(key)
    return getattr(size, key, None)


def _transformers_dtype_kw() -> str:
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


class HFEncoder(TorchEncoder):
    """A CLIP or SigLIP model through transformers (``CLIPModel`` / ``SiglipModel``).

    Parameters
    ----------
    source : str
        Hub id or local ``save_pretrained`` directory.
    name : str
        Name shown in reports and cache keys.
    family : {"clip", "siglip"}, optional
        Expected ``config.model_type``; checked when given.
    token, revision : optional
        Passed to ``from_pretrained``.
    """

    def __init__(
        self,
        source: str,
        *,
        name: str,
        family: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        token: str | bool | None = None,
        revision: str | None = None,
        gated: bool = False,
        num_workers: int | None = None,
        preprocess_on: str = "auto",
    ):
        import torch
        from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

        hub_kw: dict[str, Any] = {}
        if token is not None:
            hub_kw["token"] = token
        if revision is not None:
            hub_kw["revision"] = revision
        with _hub_errors(name, source, gated=gated), _checkpoint_errors(name, source):
            config = AutoConfig.from_pretrained(source, **hub_kw)
            model_type = config.model_type
            if model_type == "clip":
                from transformers import CLIPModel as model_cls
            elif model_type == "siglip":
                from transformers import SiglipModel as model_cls
            else:
                raise ValueError(
                    f"{source}: config.model_type is {model_type!r}; gapkit's transformers loader supports "
                    "'clip' and 'siglip' checkpoints. For open_clip checkpoints use 'open_clip:<arch>' with path=."
                )
            if family is not None and model_type != family:
                raise ValueError(f"{name!r} expects a {family!r} checkpoint but {source} holds a {model_type!r} model")
            model = model_cls.from_pretrained(source, **{_transformers_dtype_kw(): torch.float32}, **hub_kw)
            try:
                tokenizer = AutoTokenizer.from_pretrained(source, **hub_kw)
            except (ImportError, ValueError, AttributeError, TypeError) as exc:
                needs = ("sentencepiece", "protobuf", "nonetype")
                if model_type == "siglip" and any(s in str(exc).lower() for s in needs):
                    raise EncoderUnavailableError(
                        f"{name!r}: the SigLIP tokenizer needs the sentencepiece and protobuf packages "
                        f"(pip install sentencepiece protobuf); loading it failed with: {exc}"
                    ) from exc
                raise
            image_processor = AutoImageProcessor.from_pretrained(source, **hub_kw)

        self.model = model
        self.tokenizer = tokenizer
        self.family = model_type
        self.name = name
        self.model_id = str(source)
        tcfg = config.text_config
        self.max_length = int(getattr(tcfg, "max_position_embeddings", 77))
        if model_type == "clip":
            self.dim = int(config.projection_dim)
            self.logit_bias = None
        else:
            self.dim = int(getattr(tcfg, "projection_size", None) or config.vision_config.hidden_size)
            self.logit_bias = float(model.logit_bias.detach().reshape(-1)[0])
        self.logit_scale = float(model.logit_scale.detach().exp().reshape(-1)[0])

        ip = image_processor
        size = getattr(ip, "size", None)
        if not getattr(ip, "do_resize", True):
            resize = None
        elif _size_get(size, "shortest_edge"):
            resize = int(_size_get(size, "shortest_edge"))
        elif _size_get(size, "height") and _size_get(size, "width"):
            resize = (int(_size_get(size, "height")), int(_size_get(size, "width")))
        else:
            raise ValueError(
                f"{source}: unsupported image processor size {size!r} (expected shortest_edge or height/width)"
            )
        crop = None
        if getattr(ip, "do_center_crop", False):
            cs = ip.crop_size
            crop = (int(_size_get(cs, "height")), int(_size_get(cs, "width")))
        resample = getattr(ip, "resample", 3)
        resample = int(getattr(resample, "value", resample)) if resample is not None else 3
        self._composite_alpha = transformers_composites_alpha()
        self._image_transform = _HFImageTransform(resize, resample, crop, bool(getattr(ip, "do_convert_rgb", True)),
                                                  self._composite_alpha)
        self._rescale = float(ip.rescale_factor) if getattr(ip, "do_rescale", True) else 1.0
        if getattr(ip, "do_normalize", True):
            mean, std = ip.image_mean, ip.image_std
            self._mean = tuple(float(m) for m in (mean if isinstance(mean, (list, tuple)) else [mean] * 3))
            self._std = tuple(float(s) for s in (std if isinstance(std, (list, tuple)) else [std] * 3))
        self._pp = {"resize": resize, "crop": crop, "resample": resample, "rescale": self._rescale,
                    "mean": self._mean, "std": self._std, "composite_alpha": self._composite_alpha}
        self._resize_spec = _imagepipe.spec_from_pil_resample(resize, resample, crop, "floor")
        self._setup_runtime(device, precision, num_workers, preprocess_on)

    def tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """Tokenise like the model was trained.

        CLIP: pad to the longest text in the batch, truncate at 77 tokens, with an
        attention mask. SigLIP (and MedSigLIP): ``padding="max_length"`` to the
        context length (64), truncated, ``input_ids`` only (SigLIP was trained
        without an attention mask; its pooled token is the last position).
        """
        texts = _as_text_list(texts)
        if self.family == "siglip":
            enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
            return {"input_ids": enc["input_ids"]}
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def _encode_pixels(self, pixels: Any) -> Any:
        return self.model.get_image_features(pixel_values=pixels)

    def _encode_tokens(self, tokens: Mapping[str, Any]) -> Any:
        return self.model.get_text_features(**tokens)

    def _config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "preprocess": self._pp,
            "tokenizer": type(self.tokenizer).__name__,
            "vocab": len(self.tokenizer),
            "max_length": self.max_length,
            "padding": "max_length" if self.family == "siglip" else "longest",
        }


# ----------------------------------------------------------------------------------------------
# open_clip family: biomedclip, open_clip:<arch>/<pretrained>, random:<arch>


class OpenCLIPEncoder(TorchEncoder):
    """An open_clip model (``encode_image`` / ``encode_text``) with its own tokenizer and transform.

    Parameters
    ----------
    model_name : str
        What ``open_clip.create_model`` receives: a built-in architecture
        (``"ViT-B-32"``), ``"hf-hub:<org>/<repo>"`` or ``"local-dir:<path>"``.
    pretrained : str, optional
        Pretrained tag or checkpoint file (only with a built-in architecture).
    seed : int, optional
        Random initialisation with ``torch.manual_seed(seed)`` (no weights loaded).
    context_length : int, optional
        Override the tokenizer's context length (default: the model config's).
    """

    def __init__(
        self,
        model_name: str,
        *,
        name: str,
        pretrained: str | None = None,
        seed: int | None = None,
        context_length: int | None = None,
        model_id: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        num_workers: int | None = None,
        preprocess_on: str = "auto",
    ):
        import torch

        try:
            import open_clip
            from open_clip.transform import PreprocessCfg, image_transform_v2
        except ImportError as exc:  # pragma: no cover - a dependency
            raise EncoderUnavailableError(f"{name!r} needs open_clip_torch (pip install open_clip_torch)") from exc

        source = model_name if pretrained is None else f"{model_name} ({pretrained})"
        local = (model_name[len("local-dir:"):] if model_name.startswith("local-dir:")
                 else pretrained if pretrained is not None and os.path.exists(str(pretrained)) else None)
        with _hub_errors(name, source), _checkpoint_errors(name, local):
            if seed is not None:
                # Random weights are what ``random:<arch>`` asks for, so open_clip's root-logger
                # warning "No pretrained weights loaded ... initialized randomly" is expected: drop it.
                with torch.random.fork_rng(devices=[]), _drop_log_records("No pretrained weights loaded"):
                    torch.manual_seed(int(seed))
                    model = open_clip.create_model(
                        model_name, pretrained=None, load_weights=False, pretrained_image=False, pretrained_text=False
                    )
            else:
                model = open_clip.create_model(model_name, pretrained=pretrained, pretrained_image=False,
                                               pretrained_text=False)
            tokenizer = open_clip.get_tokenizer(model_name, context_length=context_length)

        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.model_id = model_id or source
        self.context_length = int(getattr(tokenizer, "context_length", None) or context_length or 77)
        self.logit_scale = float(model.logit_scale.detach().exp().reshape(-1)[0])
        bias = getattr(model, "logit_bias", None)
        self.logit_bias = None if bias is None else float(bias.detach().reshape(-1)[0])

        pp = PreprocessCfg(**open_clip.get_model_preprocess_cfg(model))
        steps, mean, std = [], None, None
        for t in image_transform_v2(pp, is_train=False).transforms:
            tname = type(t).__name__
            if tname in ("ToTensor", "MaybeToTensor"):
                from torchvision.transforms import PILToTensor

                steps.append(PILToTensor())
            elif tname == "Normalize":
                mean, std = tuple(float(m) for m in t.mean), tuple(float(s) for s in t.std)
            else:
                steps.append(t)
        if mean is None:  # pragma: no cover - open_clip always normalises
            raise RuntimeError("open_clip transform without Normalize")
        self._image_transform = _ComposeToUint8(steps)
        self._mean, self._std, self._rescale = mean, std, 1.0 / 255.0
        self._pp = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(pp).items()}
        self._resize_spec = _imagepipe.spec_from_openclip(steps)
        self._setup_runtime(device, precision, num_workers, preprocess_on)
        dim = getattr(getattr(model, "visual", None), "output_dim", None) or getattr(
            getattr(model, "text", None), "output_dim", None)
        if not dim:  # e.g. timm vision tower with a custom text tower: ask the model
            with torch.inference_mode():
                dim = self.model.encode_text(_to_device(self.tokenize(["a"]), self.device)).shape[-1]
        self.dim = int(dim)

    def tokenize(self, texts: Sequence[str]) -> Any:
        """open_clip tokenisation: ``(n, context_length)`` token ids (77 for CLIP, 256 for BiomedCLIP)."""
        return self.tokenizer(_as_text_list(texts), context_length=self.context_length)

    def _encode_pixels(self, pixels: Any) -> Any:
        return self.model.encode_image(pixels, normalize=False)

    def _encode_tokens(self, tokens: Any) -> Any:
        return self.model.encode_text(tokens, normalize=False)

    def _config(self) -> dict[str, Any]:
        return {
            "preprocess": self._pp,
            "tokenizer": type(self.tokenizer).__name__,
            "context_length": self.context_length,
        }


# ----------------------------------------------------------------------------------------------
# loaders


_HF_MODELS: dict[str, dict[str, Any]] = {
    "clip-vit-b32": {"source": "openai/clip-vit-base-patch32", "family": "clip"},
    "siglip-b16-384": {"source": "google/siglip-base-patch16-384", "family": "siglip"},
    "medsiglip-448": {"source": "google/medsiglip-448", "family": "siglip", "gated": True},
}
_OPENCLIP_MODELS: dict[str, dict[str, Any]] = {
    "biomedclip": {
        "source": "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224",
        "context_length": 256,
    },
}


def _make_hf_factory(name: str, spec: dict[str, Any]) -> Callable[..., Encoder]:
    def factory(device: str = "auto", precision: str = "auto", path: str | os.PathLike | None = None,
                **kw: Any) -> Encoder:
        source = str(path) if path is not None else spec["source"]
        if path is not None:
            _check_local(name, source)
        return HFEncoder(source, name=name, family=spec["family"], device=device, precision=precision,
                         gated=spec.get("gated", False) and path is None, **kw)

    factory.__doc__ = f"Load {name!r} ({spec['source']}); path= loads a local save_pretrained copy."
    return factory


def _make_openclip_factory(name: str, spec: dict[str, Any]) -> Callable[..., Encoder]:
    def factory(device: str = "auto", precision: str = "auto", path: str | os.PathLike | None = None,
                **kw: Any) -> Encoder:
        kw.setdefault("context_length", spec.get("context_length"))
        if path is None:
            return OpenCLIPEncoder(spec["source"], name=name, device=device, precision=precision, **kw)
        _check_local(name, str(path))
        if not (Path(path) / "open_clip_config.json").is_file():
            raise ValueError(
                f"{name!r} with path={str(path)!r}: expected a directory holding open_clip_config.json and the "
                "weights (open_clip_pytorch_model.bin or .safetensors), the layout of its Hub repository."
            )
        return OpenCLIPEncoder(f"local-dir:{path}", name=name, model_id=str(path), device=device,
                               precision=precision, **kw)

    factory.__doc__ = f"Load {name!r} ({spec['source']}); path= loads a local directory in the Hub layout."
    return factory


for _name, _spec in _HF_MODELS.items():
    register_encoder(_name, _make_hf_factory(_name, _spec))
for _name, _spec in _OPENCLIP_MODELS.items():
    register_encoder(_name, _make_openclip_factory(_name, _spec))


def _check_local(name: str, path: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name!r}: local checkpoint {path!r} does not exist")


def _load_random(name: str, *, device: str, precision: str, seed: int = 0, **kw: Any) -> Encoder:
    arch = name.split(":", 1)[1]
    if not arch:
        raise ValueError("random:<arch> needs an open_clip architecture, e.g. 'random:ViT-B-32' or 'random:RN50'")
    import open_clip

    if open_clip.get_model_config(arch) is None:
        raise ValueError(f"{name!r}: unknown open_clip architecture {arch!r}; choose one of open_clip.list_models(), "
                         "e.g. ViT-B-32, ViT-B-16, RN50")
    from ._validation import SEED, check_param

    seed = check_param("seed", seed, [SEED], owner=f"load_encoder({name!r})", default=0)
    device = resolve_device(device)  # a missing GPU is said as such, not blamed on the Hub below
    try:
        return OpenCLIPEncoder(arch, name=name, seed=seed, model_id=f"random init, seed {seed}", device=device,
                               precision=precision, **kw)
    except EncoderUnavailableError as exc:
        raise EncoderUnavailableError(
            f"{name!r}: this architecture's text tower or tokenizer comes from the Hugging Face Hub, which is "
            "unreachable here. Offline, use an architecture with the bundled CLIP tokenizer, e.g. "
            f"'random:ViT-B-32' or 'random:RN50'. ({exc})"
        ) from exc


def _load_open_clip(name: str, *, device: str, precision: str, path: str | os.PathLike | None = None,
                    **kw: Any) -> Encoder:
    spec = name.split(":", 1)[1]
    if spec.startswith("hf-hub:"):
        if path is not None:
            return _make_openclip_factory(name, {"source": spec})(device=device, precision=precision, path=path, **kw)
        return OpenCLIPEncoder(spec, name=name, device=device, precision=precision, **kw)
    arch, _, pretrained = spec.partition("/")
    if path is not None:
        _check_local(name, str(path))
        if os.path.isdir(path):
            if (Path(path) / "open_clip_config.json").is_file():
                return OpenCLIPEncoder(f"local-dir:{path}", name=name, model_id=str(path), device=device,
                                       precision=precision, **kw)
            raise ValueError(f"{name!r}: {path} is a directory without open_clip_config.json; pass the weights file")
        return OpenCLIPEncoder(arch, name=name, pretrained=str(path), model_id=str(path), device=device,
                               precision=precision, **kw)
    if not pretrained:
        raise ValueError(
            f"{name!r}: name the pretrained weights, e.g. 'open_clip:{arch or 'ViT-B-32'}/laion2b_s34b_b79k' "
            f"(see open_clip.list_pretrained()), pass path='weights.pt', or use 'random:{arch or 'ViT-B-32'}'."
        )
    import open_clip

    if open_clip.get_model_config(arch) is None:
        raise ValueError(f"{name!r}: unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    return OpenCLIPEncoder(arch, name=name, pretrained=pretrained, device=device, precision=precision, **kw)


def _load_hf_any(name: str, *, device: str, precision: str, path: str | None = None, **kw: Any) -> Encoder:
    source = str(path) if path is not None else name.split(":", 1)[1]
    return HFEncoder(source, name=name, device=device, precision=precision, **kw)


def _load_local(path: str, *, device: str, precision: str, **kw: Any) -> Encoder:
    p = Path(path)
    if p.is_dir() and (p / "open_clip_config.json").is_file():
        return OpenCLIPEncoder(f"local-dir:{p}", name=str(p), model_id=str(p), device=device, precision=precision, **kw)
    if p.is_dir() and (p / "config.json").is_file():
        return HFEncoder(str(p), name=str(p), device=device, precision=precision, **kw)
    raise ValueError(
        f"{path!r}: not a checkpoint directory gapkit recognises. Expected a transformers save_pretrained folder "
        "(config.json with model_type 'clip' or 'siglip') or an open_clip folder (open_clip_config.json + weights). "
        "For an open_clip weights file use load_encoder('open_clip:<arch>', path=file)."
    )
