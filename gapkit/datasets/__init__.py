"""Paired image–text data: offline generators and online (Hugging Face) loaders.

Every loader returns a :class:`PairedDataset`: uint8 images ``(n, H, W, 3)``,
one string per image, labels, and a one-sentence description for the executed
page. Row ``i`` of the images and ``texts[i]`` are a matched pair.

Offline (deterministic given ``seed``, no network; used by ``make book`` / CI):

- :func:`load_digits_captions` — scikit-learn's 8×8 digits, upscaled to RGB,
  with templated captions ("a photo of the digit three"). Chapters 1–3.
- :func:`make_shapes` — procedurally drawn shapes with six ground-truth
  attributes; the caption describes ``n_described`` of them. Fewer described
  attributes = the text carries less information than the image (Schrodi
  2025's *information imbalance*). Chapter 2. :func:`shape_hard_negatives` gives each caption
  with one attribute changed (chapter 5's hard negatives), and
  :meth:`PairedDataset.with_mismatched_pairs` swaps a share of captions (chapter 5's filtering).
- :func:`make_multimodal_task` — a supervised task shaped like the medical
  datasets: a lesion-like image and a metadata sentence ("Patient aged 54,
  male, lesion on the back.") each carry part of the label, so fusing the two
  modalities beats either alone. Chapter 6.

Online (Colab, ``pip install datasets``):

- :func:`load_ham10000` — HAM10000 dermoscopy, 7 classes, with the text
  ``"Patient diagnosed via {dx_type}. Age: {age}. Sex: {sex}. Localization: {localization}."``
  used by Restrepo 2026. Chapter 6.
- :func:`load_captions` — a natural image–caption set (COCO 2017 val or Flickr30k).

Both online loaders accept ``records=`` (a list of dicts or a pandas DataFrame
in the Hub's column format, images as PIL images, arrays, ``{"bytes": ...}``
dicts or paths), which runs the same conversion code offline; the tests use
small local fixtures this way.

Published real embeddings (no images, embeddings only):
:func:`load_published_embeddings` (Liang et al. 2022: CLIP, ConVIRT, CLASP, VideoCLIP),
implemented in :mod:`gapkit._published` and re-exported here. Chapters 1, 3, 4, 7.

Published result tables: :func:`load_published_results` (Restrepo et al. 2026: the supervised
experiment's metrics against λ, and the cone-strength table), read through the same loader
(:mod:`gapkit._published_results`). Chapters 3 and 6.
"""


from __future__ import annotations

# The code lives in one private module per idea; each imports only from lower ones (and from gapkit's
# own private modules), never from this package:
#
#   _paired      the container, PairedDataset
#   _images      images to uint8 arrays (_to_pil, _image_to_array, _stack, _images_to_array) and _consume,
#                one pass over rows of records that converts each image as it is read
#   _hub         the Hugging Face Hub: _require_datasets, _load_hub
#   _digits      DIGIT_NAMES, DIGIT_TEMPLATES, load_digits_captions
#   _shapes      SHAPE_ATTRIBUTES, the drawing and caption helpers, make_shapes
#   _multimodal  the sites and their risks, MULTIMODAL_TEMPLATE, make_multimodal_task
#   _ham10000    HAM10000_TEMPLATE / _CLASSES / _HUB, the dx aliases, the text helpers, load_ham10000
#   _captions    CAPTION_SOURCES, PERSON_WORDS, mentions_person, _caption_list, load_captions
#
# Everything is re-exported here, private helpers included. There is no module-level state to patch.

from .._published import (  # noqa: F401  (real published embeddings, re-exported here)
    PUBLISHED_EMBEDDINGS, PublishedDataError, PublishedDataUnavailableError, PublishedEmbeddings, PublishedSet,
    available_published_embeddings, glue_or_nan, load_published_embeddings, published_or_note,
)
from .._published_results import (PUBLISHED_RESULTS, RESTREPO_DATASETS, RESTREPO_MEDICAL_MODELS,  # noqa: F401
                                  RESTREPO_MODELS, load_published_results, published_results_or_none)
from ._captions import (CAPTION_SOURCES, PERSON_WORDS, _caption_list, _PERSON_RE, load_captions,  # noqa: F401
                        mentions_person)
from ._digits import DIGIT_NAMES, DIGIT_TEMPLATES, load_digits_captions  # noqa: F401
from ._ham10000 import (HAM10000_CLASSES, HAM10000_HUB, HAM10000_TEMPLATE, _format_age, _HAM_DX_ALIASES,  # noqa: F401
                        _missing_text, load_ham10000)
from ._hub import _load_hub, _require_datasets  # noqa: F401
from ._images import _consume, _image_to_array, _images_to_array, _stack, _to_pil  # noqa: F401
from ._multimodal import MULTIMODAL_TEMPLATE, _SITE_RISK, _SITES, _standardise, make_multimodal_task  # noqa: F401
from ._paired import PairedDataset  # noqa: F401
from ._shapes import (SHAPE_ATTRIBUTES, _article, _RGB, _shape_caption, _shape_mask, make_shapes,  # noqa: F401
                      shape_hard_negatives)

__all__ = [
    "PairedDataset",
    "load_digits_captions",
    "make_shapes",
    "shape_hard_negatives",
    "make_multimodal_task",
    "load_ham10000",
    "load_captions",
    "DIGIT_TEMPLATES",
    "DIGIT_NAMES",
    "SHAPE_ATTRIBUTES",
    "HAM10000_TEMPLATE",
    "HAM10000_CLASSES",
    "HAM10000_HUB",
    "CAPTION_SOURCES",
    "PERSON_WORDS",
    "mentions_person",
    # published real embeddings (gapkit/_published.py)
    "load_published_embeddings",
    "available_published_embeddings",
    "load_published_results",
    "published_results_or_none",
    "PUBLISHED_RESULTS",
    "published_or_note",
    "glue_or_nan",
    "PublishedEmbeddings",
    "PublishedSet",
    "PublishedDataError",
    "PublishedDataUnavailableError",
    "PUBLISHED_EMBEDDINGS",
]
