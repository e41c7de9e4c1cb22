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

from .._live import live_state

# The code lives in one private module per idea; each imports only from lower ones (and from gapkit's
# own private modules), never from this package:
#
#   _errors    EncoderUnavailableError, GatedModelError, CheckpointError; Hub and checkpoint failures
#   _base      the Encoder base class
#   _runtime   resolve_device, resolve_precision, weights_fingerprint
#   _images    decoding, the DataLoader dataset, the PIL transforms, the transparency probe, image inputs
#   _torch     TorchEncoder: batched inference, the device image path, fingerprints; token/output helpers
#   _hf        HFEncoder: transformers CLIP and SigLIP
#   _openclip  OpenCLIPEncoder: open_clip models (BiomedCLIP, open_clip:, random:)
#   _loaders   the factories of the named models, the prefix forms and local paths
#   _registry  the named models' ids, the registry, register_encoder, available_encoders, load_encoder
#
# Everything is re-exported here, private helpers included. Module-level state keeps one home and is
# read from it live (see __getattr__ below): the registry (_REGISTRY, _LAZY) in
# gapkit.encoders._registry and the transparency probe's answer (_COMPOSITES_ALPHA) in
# gapkit.encoders._images: patch them there, not here.

from . import _images, _registry
from ._base import Encoder
from ._errors import (_OFFLINE_HINT, CheckpointError, EncoderUnavailableError, GatedModelError,  # noqa: F401
                      _bad_checkpoint_file, _checkpoint_errors, _classify_hub_error, _exception_chain,
                      _gated_message, _hub_errors)
from ._hf import HFEncoder, _size_get, _transformers_dtype_kw  # noqa: F401
from ._images import (_as_image_items, _ComposeToUint8, _HFImageTransform, _ImageDataset, _is_pil,  # noqa: F401
                      _open_image, transformers_composites_alpha)
from ._loaders import (_check_local, _load_hf_any, _load_local, _load_open_clip, _load_random,  # noqa: F401
                       _make_hf_factory, _make_openclip_factory)
from ._openclip import OpenCLIPEncoder, _drop_log_records  # noqa: F401
from ._registry import (_HF_MODELS, _OPENCLIP_MODELS, _PREFIX_FORMS, available_encoders,  # noqa: F401
                        load_encoder, register_encoder)
from ._runtime import _PRECISIONS, _torch_dtype, resolve_device, resolve_precision, weights_fingerprint  # noqa: F401
from ._torch import _EMBED_PARAMS, TorchEncoder, _as_embedding, _as_text_list, _to_device  # noqa: F401

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

#: module-level state, by its one home: read live, so the package shows the current value
_STATE = {"_REGISTRY": _registry, "_LAZY": _registry, "_COMPOSITES_ALPHA": _images}
__getattr__, __dir__ = live_state(__name__, globals(), _STATE)
