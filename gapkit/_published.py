"""Real embeddings that papers published, read from a local folder or downloaded and hash-checked.

The book's offline pages run on stand-ins, but some papers published the embeddings behind their
figures. :func:`load_published_embeddings` makes them one call away, with the same answer on
every machine:

``liang2022/*``
    Liang et al. (2022), "Mind the Gap", Figure 1 (MIT licence): real pretrained models and the
    same architectures at random initialisation, each as matched pairs,

    - ``clip`` / ``clip-random``: OpenAI CLIP ViT-B/16, 500 COCO val2017 image-caption pairs;
    - ``convirt`` / ``convirt-random``: ConVIRT, 500 MIMIC-CXR chest X-ray/report pairs;
    - ``clasp`` / ``clasp-random``: CLASP, 99 UniProt protein/text pairs;
    - ``videoclip`` / ``videoclip-random``: VideoCLIP, 100 video/caption pairs.

Where a file comes from, in this order:

1. a local folder: every entry of ``data_dir=`` or, by default, of the ``GAPKIT_DATA``
   environment variable (an ``os.pathsep``-separated list), holding ``liang2022/<file>``.
   ``make`` sets ``GAPKIT_DATA`` to ``../shared/data`` when that folder exists;
2. gapkit's download cache, ``<cache root>/published/liang2022/<file>`` (:func:`gapkit._io.cache_root`,
   so ``GAPKIT_CACHE`` moves it), read through :func:`gapkit._io.read_checked`: a damaged entry
   warns (``CorruptFileWarning``) and is fetched again;
3. a download, with pooch's HTTP downloader, from the raw GitHub URL pinned to the source
   commit (``url_base=`` or ``GAPKIT_DATA_URL`` point it at a mirror laid out like a
   ``GAPKIT_DATA`` folder). The file is written atomically into the cache: a temporary file
   beside it, hash-checked, then renamed, so a failed or corrupted download leaves nothing. If the
   cache cannot be written, a ``CacheUnavailableWarning`` says so and the download is still returned.

Every file is checked against its pinned SHA-256, wherever it comes from; a mismatch raises
:class:`PublishedDataError` naming the file and both hashes. With no local copy and no network,
:class:`PublishedDataUnavailableError` says within seconds (a short timeout) which file, which
URL, and how to fix it (``GAPKIT_DATA``).

For the book, :func:`published_or_note` loads a few of them once per chapter and, when they are
unavailable, returns a falsy :class:`PublishedSet` whose :meth:`~PublishedSet.note` shows a
visible note with the remedy in place of a section's figure; :func:`glue_or_nan` then glues the
section's numbers as NaN so the page still builds.
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ._io import CacheUnavailableWarning, atomic_open, cache_root, read_checked
from ._validation import SEED, Interval, Real, validate_params

__all__ = [
    "PublishedSpec",
    "PublishedEmbeddings",
    "PublishedSet",
    "PublishedDataError",
    "PublishedDataUnavailableError",
    "PUBLISHED_EMBEDDINGS",
    "available_published_embeddings",
    "load_published_embeddings",
    "published_or_note",
    "glue_or_nan",
    "DOWNLOAD_TIMEOUT_S",
]

#: Seconds to wait for the server to answer (connect, and between two received chunks).
DOWNLOAD_TIMEOUT_S = 5.0

DATA_ENV = "GAPKIT_DATA"
URL_ENV = "GAPKIT_DATA_URL"


class PublishedDataError(ValueError):
    """A published-embedding file is not what was published (hash, shape or values)."""


class PublishedDataUnavailableError(OSError):
    """A published-embedding file is in no local folder and could not be downloaded."""


@dataclass(frozen=True)
class _Collection:
    key: str
    url_base: str
    citation: str
    source: str
    licence: str


_LIANG_COMMIT = "8e20cb24efa4c5f89aad694f2f65eb43ffc46d10"
_COLLECTIONS = {
    "liang2022": _Collection(
        key="liang2022",
        url_base=(f"https://raw.githubusercontent.com/Weixin-Liang/Modality-Gap/{_LIANG_COMMIT}/"
                  "Figure_1_Modality_Gap"),
        citation='Liang et al. (2022), "Mind the Gap", Figure 1',
        source=f"github.com/Weixin-Liang/Modality-Gap@{_LIANG_COMMIT[:7]}, Figure_1_Modality_Gap/",
        licence="MIT licence",
    ),
}


@dataclass(frozen=True)
class PublishedSpec:
    """What one published file holds, and its pinned SHA-256.

    Attributes
    ----------
    name : str
        ``"<collection>/<model>"``, e.g. ``"liang2022/clip"``.
    file : str
        File name inside the collection folder.
    sha256 : str
        Pinned hex digest of the file.
    model, data : str
        The model (and whether it is pretrained) and the paired data, in words.
    label : str
        A short name for tables and legends.
    modalities : tuple of str
        ``(first, "text")``: the first is ``"image"``, ``"video"`` or ``"protein"``.
    n, d : int
        Pairs and dimensions.
    pretrained : bool
        False for the randomly initialised copies.
    """

    name: str
    file: str
    sha256: str
    model: str
    data: str
    label: str
    modalities: tuple[str, str]
    n: int
    d: int
    pretrained: bool

    @property
    def collection(self) -> _Collection:
        return _COLLECTIONS[self.name.split("/", 1)[0]]

    @property
    def upstream_url(self) -> str:
        """The pinned download URL of the file."""
        return f"{self.collection.url_base}/{self.file}"

    @property
    def cache_name(self) -> str:
        """The file's name in the download cache."""
        return self.file

    def summary(self) -> str:
        """One line: model, data, n, d."""
        return f"{self.model}: {self.n} {self.data} pairs, d = {self.d}"

    def description(self) -> str:
        """Model, data, n, d, source and licence: one line for ``profile.provenance``."""
        c = self.collection
        return (f"{self.model}: {self.n} {self.data} pairs, d = {self.d}; embeddings published with "
                f"{c.citation} ({c.source}{self.file}, {c.licence})")


def _liang(model: str, file: str, sha: str, model_text: str, data: str, label: str, first: str, n: int, d: int,
           pretrained: bool) -> PublishedSpec:
    return PublishedSpec(f"liang2022/{model}", file, sha, model_text, data, label, (first, "text"), n, d, pretrained)


_COCO = "COCO val2017 image-caption"
_MIMIC = "MIMIC-CXR chest X-ray/report"
_UNIPROT = "UniProt protein-sequence/text"
_VIDEO = "YouCook-style video-clip/caption"

#: Every published embedding set gapkit knows, by name.
PUBLISHED_EMBEDDINGS: dict[str, PublishedSpec] = {s.name: s for s in (
    _liang("clip", "features_clip.npy", "7227280ace0f145d2c45afa8ab507a1cb280e9460aa271fe9052d08e35342adb",
           "OpenAI CLIP ViT-B/16, pretrained", _COCO, "CLIP ViT-B/16", "image", 500, 512, True),
    _liang("clip-random", "features_clip_random.npy",
           "c6a5f9ca3fba36d635fd47d20b3cdd5b9ac78dc462070240fdc2ee2786110403",
           "CLIP ViT-B/16 architecture, random init", _COCO, "CLIP ViT-B/16 (random init)", "image", 500, 512, False),
    _liang("convirt", "features_convirt.npy", "8cfb9c31888d12726a3f8b551bed64f04b25d1c76d5353b0a3e9efeceb43edb9",
           "ConVIRT (chest X-ray and report encoders), pretrained", _MIMIC, "ConVIRT", "image", 500, 512, True),
    _liang("convirt-random", "features_convirt_random.npy",
           "2fd5698e712d5e0d72256a1b29044b2059818f0575ab12bfcb2c5ae13092007f",
           "ConVIRT architecture, random init", _MIMIC, "ConVIRT (random init)", "image", 500, 512, False),
    _liang("clasp", "features_clasp.npy", "5a1d12a68729405003fe19b271a38ae35adab97c139e4b4a51d70b18c44bf628",
           "CLASP (protein-sequence and text encoders), pretrained", _UNIPROT, "CLASP", "protein", 99, 768, True),
    _liang("clasp-random", "features_clasp_random.npy",
           "2a159d008b7527e9fbd3de49daf9116d9500d1aaa250c3a5b009b162c5f4066b",
           "CLASP architecture, random init", _UNIPROT, "CLASP (random init)", "protein", 99, 768, False),
    _liang("videoclip", "features_videoclip.npy", "53255cac6105c5c47dd1850d77de084957d5f83841ba9ae9254bf7ae998573da",
           "VideoCLIP (video and text encoders), pretrained", _VIDEO, "VideoCLIP", "video", 100, 768, True),
    _liang("videoclip-random", "features_videoclip_random.npy",
           "c57ee05a606c4a9da0d71ad8b5d5c964d780af816890064a693eb178492c0f3b",
           "VideoCLIP architecture, random init", _VIDEO, "VideoCLIP (random init)", "video", 100, 768, False),
)}


def available_published_embeddings() -> dict[str, str]:
    """Every name :func:`load_published_embeddings` accepts, with a one-line description.

    Returns
    -------
    dict
        ``{"liang2022/clip": "OpenAI CLIP ViT-B/16, pretrained: 500 COCO val2017 image-caption pairs, d = 512", ...}``
    """
    return {name: spec.summary() for name, spec in PUBLISHED_EMBEDDINGS.items()}


def _spec(name: str) -> PublishedSpec:
    if not isinstance(name, str) or name not in PUBLISHED_EMBEDDINGS:
        raise ValueError(f"unknown published embeddings {name!r}; available: {', '.join(PUBLISHED_EMBEDDINGS)} "
                         "(see gapkit.datasets.available_published_embeddings()).")
    return PUBLISHED_EMBEDDINGS[name]


# --------------------------------------------------------------------------- the loaded object


@dataclass(frozen=True, eq=False, repr=False)
class PublishedEmbeddings:
    """Matched published embeddings: ``embeddings[0]`` the first modality, ``embeddings[1]`` the text.

    Row ``i`` of each modality is a pair. The arrays are read-only float32, as published (the
    authors normalised the rows; every gapkit metric normalises again).

    Access the first modality by its own name (``.image``, ``.video`` or ``.protein``: asking for
    a modality the set does not have raises ``AttributeError`` naming the ones it has), or by
    ``.first`` / ``emb["image"]``; ``.pair`` is ``(first, text)`` for ``v, t = emb.pair``.

    Attributes
    ----------
    spec : PublishedSpec
        Model, data, n, d, file and pinned hash.
    embeddings : numpy.ndarray, shape (2, n, d)
        Read-only.
    path : pathlib.Path
        The hash-checked file the arrays were read from (a temporary file, removed since, when the
        download could not be cached).
    subset : str
        Empty for the whole set; otherwise which rows were kept (see :meth:`split`).
    """

    spec: PublishedSpec
    embeddings: np.ndarray
    path: Path
    subset: str = ""

    # -- the modalities
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def modalities(self) -> tuple[str, str]:
        """``(first, "text")``, e.g. ``("image", "text")`` or ``("protein", "text")``."""
        return self.spec.modalities

    @property
    def first(self) -> np.ndarray:
        """The non-text modality, whatever it is (shape (n, d))."""
        return self.embeddings[0]

    @property
    def text(self) -> np.ndarray:
        """The text embeddings (shape (n, d))."""
        return self.embeddings[1]

    @property
    def pair(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first, text)``: ``v, t = emb.pair``."""
        return self.embeddings[0], self.embeddings[1]

    def _modality(self, modality: str) -> np.ndarray:
        if modality == self.modalities[0]:
            return self.embeddings[0]
        raise AttributeError(f"{self.name} holds {self.modalities[0]} and text embeddings, not {modality}; "
                             f"use .{self.modalities[0]}, .first or .pair.")

    @property
    def image(self) -> np.ndarray:
        """The image embeddings (CLIP, ConVIRT); ``AttributeError`` for video or protein sets."""
        return self._modality("image")

    @property
    def video(self) -> np.ndarray:
        """The video embeddings (VideoCLIP)."""
        return self._modality("video")

    @property
    def protein(self) -> np.ndarray:
        """The protein embeddings (CLASP)."""
        return self._modality("protein")

    def __getitem__(self, modality: str) -> np.ndarray:
        if modality == "text":
            return self.text
        if modality == self.modalities[0]:
            return self.first
        raise KeyError(f"{self.name} has modalities {self.modalities}, not {modality!r}.")

    # -- sizes and words
    @property
    def n(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def d(self) -> int:
        return int(self.embeddings.shape[2])

    @property
    def label(self) -> str:
        """Short name for tables and legends, e.g. ``"CLIP ViT-B/16"``."""
        return self.spec.label

    @property
    def description(self) -> str:
        """Model, data, n, d, source and licence in one line (for ``profile.provenance``)."""
        text = self.spec.description()
        return f"{text}; {self.subset}" if self.subset else text

    def __repr__(self) -> str:
        extra = f", {self.subset}" if self.subset else ""
        return f"PublishedEmbeddings({self.name!r}, {self.modalities[0]}+text, n={self.n}, d={self.d}{extra})"

    # -- subsets
    def take(self, rows: Any, note: str | None = None) -> "PublishedEmbeddings":
        """The pairs ``rows`` (integer indices), as a new read-only :class:`PublishedEmbeddings`."""
        idx = np.asarray(rows)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError("rows must be a non-empty 1-D array of integer pair indices.")
        if idx.min() < -self.n or idx.max() >= self.n:
            raise ValueError(f"rows must lie in 0..{self.n - 1}, got {int(idx.min())}..{int(idx.max())}.")
        arr = self.embeddings[:, idx]
        arr.setflags(write=False)
        return PublishedEmbeddings(self.spec, arr, self.path, note or f"{idx.size} of the pairs")

    @validate_params({"test_size": [Interval(Real, 0, 1, closed="neither")], "seed": [SEED]})
    def split(self, test_size: float = 0.2, seed: int = 42) -> tuple["PublishedEmbeddings", "PublishedEmbeddings"]:
        """A seeded random split of the pairs into ``(train, test)`` (image ``i`` and text ``i`` together).

        Parameters
        ----------
        test_size : float
            Share of pairs held out, strictly between 0 and 1.
        seed : int
            Seeds ``numpy.random.default_rng(seed).permutation(n)``: the test pairs are the first
            ``round(test_size·n)`` of that order, the training pairs the rest.
        """
        n_test = int(round(float(test_size) * self.n))
        if not 1 <= n_test <= self.n - 2:
            raise ValueError(f"test_size={test_size} leaves {n_test} test and {self.n - n_test} training pairs "
                             f"of {self.n}; both need pairs (at least 2 to train).")
        order = np.random.default_rng(seed).permutation(self.n)
        test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
        return (self.take(train, f"training split: {train.size} pairs (seed {seed})"),
                self.take(test, f"test split: {test.size} held-out pairs (seed {seed})"))


# --------------------------------------------------------------------------- loading


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _data_dirs(data_dir: Any) -> list[Path]:
    if data_dir is None:
        entries = [e for e in os.environ.get(DATA_ENV, "").split(os.pathsep) if e.strip()]
    elif isinstance(data_dir, (str, os.PathLike)):
        entries = [data_dir]
    else:
        entries = list(data_dir)
    return [Path(e).expanduser() for e in entries]


def _check_hash(path: Path, spec: PublishedSpec, where: str) -> None:
    actual = _sha256(path)
    if actual != spec.sha256:
        raise PublishedDataError(
            f"{spec.file} ({where}, {path}) has SHA-256 {actual}, but the published file has {spec.sha256}. "
            f"The copy is corrupted or not the published one: replace it with the file from {spec.upstream_url}."
        )


def _read(path: Path, spec: PublishedSpec) -> PublishedEmbeddings:
    arr = np.load(path, allow_pickle=False)
    expected = (2, spec.n, spec.d)
    if arr.shape != expected or arr.dtype.kind != "f":
        raise PublishedDataError(f"{spec.file} ({path}): expected a float array of shape {expected} "
                                 f"(modality, pair, dimension), got {arr.dtype} {arr.shape}.")
    if not np.isfinite(arr).all():
        raise PublishedDataError(f"{spec.file} ({path}): {int((~np.isfinite(arr)).sum())} entries are NaN or inf.")
    arr.setflags(write=False)
    return PublishedEmbeddings(spec, arr, path)


def _download(url: str, dest: Path, spec: PublishedSpec, timeout: float) -> Path:
    """Fetch ``url`` with pooch into a temporary file beside ``dest``; hash-check; rename; return ``dest``."""
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(progressbar=False, timeout=timeout)
    with atomic_open(dest, "w+b") as fh:
        try:
            downloader(url, fh, None)
        except requests.RequestException as err:
            reason = str(err)
            reason = reason if len(reason) <= 200 else reason[:197] + "..."
            raise PublishedDataUnavailableError(f"{type(err).__name__}: {reason}") from err
        fh.flush()
        fh.seek(0)
        h = hashlib.sha256()
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
        if h.hexdigest() != spec.sha256:  # raising here removes the temporary file: nothing is cached
            raise PublishedDataError(
                f"{spec.file} downloaded from {url} has SHA-256 {h.hexdigest()}, but the published file has "
                f"{spec.sha256}; the download was not kept. Check the URL (GAPKIT_DATA_URL / url_base) or use "
                f"a local copy (GAPKIT_DATA).")
    return dest


#: The loaders' parameter constraints (load_published_embeddings, and load_published_results in
#: gapkit._published_results): one set of sources and options for every published file.
_LOADER_PARAMS: dict[str, list[Any]] = {
    "name": [str], "data_dir": [None, str, os.PathLike, list, tuple], "url_base": [None, str],
    "cache_dir": [None, str, os.PathLike], "download": ["boolean"], "timeout": [Interval(Real, 0, None, closed="neither")]}


@validate_params(_LOADER_PARAMS)
def load_published_embeddings(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    url_base: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> PublishedEmbeddings:
    """Load published real embeddings by name, hash-checked (chapters 1, 3, 4, 5 and 7).

    Parameters
    ----------
    name : str
        One of :func:`available_published_embeddings`, e.g. ``"liang2022/clip"``.
    data_dir : path or list of paths, optional
        Folders holding ``<collection>/<file>`` (e.g. ``../shared/data`` holding
        ``liang2022/features_clip.npy``), searched in order. Default: the entries of the
        ``GAPKIT_DATA`` environment variable (``os.pathsep``-separated).
    url_base : str, optional
        Download from ``<url_base>/<collection>/<file>`` (a mirror laid out like a data folder)
        instead of the pinned upstream URL. Default: ``GAPKIT_DATA_URL`` if set.
    cache_dir : path, optional
        Where downloads are kept. Default ``<gapkit cache root>/published/<collection>``.
    download : bool
        Set False to use only local folders and the cache.
    timeout : float
        Seconds to wait for the server to answer (connect, then between chunks).

    Returns
    -------
    PublishedEmbeddings
        ``.image`` (or ``.video`` / ``.protein``), ``.text``, ``.modalities``, ``.description``.

    Raises
    ------
    ValueError
        For an unknown name.
    PublishedDataError
        A file whose SHA-256 is not the published one (the message names the file and both
        hashes), or whose array is not ``(2, n, d)`` finite floats.
    PublishedDataUnavailableError
        No local copy, nothing cached and no download possible (offline): the message names the
        file, the URL and the ``GAPKIT_DATA`` remedy.

    Examples
    --------
    >>> clip = load_published_embeddings("liang2022/clip")   # doctest: +SKIP
    >>> gapkit.centroid_gap(clip.image, clip.text)           # doctest: +SKIP
    0.851...
    """
    spec = _spec(name)
    return _fetch(spec, name, lambda p: _read(p, spec), data_dir=data_dir, url_base=url_base, cache_dir=cache_dir,
                  download=download, timeout=timeout, what="published embeddings")


def _fetch(spec: Any, name: str, read: Callable[[Path], Any], *, data_dir: Any, url_base: str | None,
           cache_dir: Any, download: bool, timeout: float, what: str) -> Any:
    """``read`` one published file, found and checked as the module docstring says (every published loader).

    ``spec`` is anything with ``file`` (its path inside the collection folder), ``sha256``,
    ``upstream_url`` and ``collection`` (a ``_Collection``): a :class:`PublishedSpec`, or a
    published result file (:mod:`gapkit._published_results`). ``read(path)`` parses the
    hash-checked file into memory and raises :class:`PublishedDataError` on content it does not trust.
    """
    coll = spec.collection
    dirs = _data_dirs(data_dir)
    for folder in dirs:
        path = folder / coll.key / spec.file
        if path.is_file():
            _check_hash(path, spec, "local copy")
            return read(path)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else cache_root("published") / coll.key
    cached = cache / spec.cache_name

    def verified(p: Path) -> Any:  # a cached copy is read only if its SHA-256 is the published one
        _check_hash(p, spec, "cached copy")
        return read(p)

    # a damaged cache entry warns (CorruptFileWarning) and is fetched again below
    if cached.is_file():
        found = read_checked(cached, verified, what=f"cached {what} {spec.file}", stacklevel=4)
        if found is not None:
            return found
    base = url_base if url_base is not None else os.environ.get(URL_ENV) or None
    url = f"{base.rstrip('/')}/{coll.key}/{spec.file}" if base else spec.upstream_url
    searched = ", ".join(str(d) for d in dirs) if dirs else f"none ({DATA_ENV} is not set)"
    remedy = (f"Put the published files in <folder>/{coll.key}/ (from {coll.url_base}/) and set "
              f"{DATA_ENV}=<folder> (make sets it to ../shared/data when that folder exists); "
              f"folders searched: {searched}.")
    if not download:
        raise PublishedDataUnavailableError(f"{spec.file} ({name}) is in no local folder and not in the cache "
                                            f"{cache}, and download=False (its URL: {url}). {remedy}")
    try:
        try:
            _download(url, cached, spec, float(timeout))
        except PublishedDataUnavailableError:
            raise
        except OSError as exc:  # the cache folder cannot be written: keep the download in memory, uncached
            warnings.warn(f"{what} {spec.file} not cached: could not write {cached} "
                          f"({type(exc).__name__}: {exc}). They are downloaded again next time; point GAPKIT_CACHE "
                          "at a writable folder, or use a local copy (GAPKIT_DATA).", CacheUnavailableWarning,
                          stacklevel=3)
            with tempfile.TemporaryDirectory(prefix="gapkit-published-") as tmp:
                return read(_download(url, Path(tmp) / Path(spec.file).name, spec, float(timeout)))  # into memory
    except PublishedDataUnavailableError as err:
        raise PublishedDataUnavailableError(
            f"{spec.file} ({name}) is in no local folder and could not be downloaded from {url} ({err}). "
            f"Offline? {remedy}") from err
    return read(cached)


# --------------------------------------------------------------------------- for the book's chapters


class _Note:
    """A visible note for a notebook: HTML where rendered, plain text elsewhere."""

    def __init__(self, title: str, body: str) -> None:
        self.title, self.body = title, body

    def _repr_html_(self) -> str:
        return (f'<div class="admonition warning"><p class="admonition-title">{html.escape(self.title)}</p>'
                f"<p>{html.escape(self.body)}</p></div>")

    def __repr__(self) -> str:
        return f"Note: {self.title}. {self.body}"


@dataclass(frozen=True, repr=False)
class PublishedSet(Mapping[str, PublishedEmbeddings]):
    """Published embeddings a chapter uses, loaded once; falsy when they are unavailable.

    Built by :func:`published_or_note`. When available it maps each name to its
    :class:`PublishedEmbeddings`. When not, ``bool(s)`` is False, :attr:`reason` says why,
    :meth:`note` shows a visible note with the remedy (a chapter section shows it instead of its
    figure) and :attr:`provenance` says so in the page's ``Data:`` line.
    """

    names: tuple[str, ...]
    loaded: Mapping[str, PublishedEmbeddings] = field(default_factory=dict)
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    def __bool__(self) -> bool:
        return self.available

    def __getitem__(self, name: str) -> PublishedEmbeddings:
        if not self.available:
            raise PublishedDataUnavailableError(f"published embeddings unavailable: {self.reason}")
        return self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.loaded)

    def __contains__(self, name: object) -> bool:
        return name in self.loaded

    def __len__(self) -> int:
        return len(self.loaded)

    def __repr__(self) -> str:
        state = "available" if self.available else "unavailable"
        return f"PublishedSet({', '.join(self.names)}: {state})"

    @property
    def provenance(self) -> list[str]:
        """Lines for ``profile.provenance(..., data=...)``: each set's description, or why they are missing."""
        if self.available:
            return [self.loaded[n].description for n in self.names]
        return [f"published embeddings {', '.join(self.names)} unavailable (set {DATA_ENV} to a folder holding "
                f"liang2022/, or go online); their sections show a note instead"]

    def note_object(self, what: str = "This section") -> _Note:
        """The note :meth:`note` displays, as an object (e.g. to glue in place of a figure)."""
        return _Note(
            "Published embeddings unavailable",
            f"{what} uses the real embeddings published by Liang et al. (2022) "
            f"({', '.join(self.names)}), which could not be loaded here: {self.reason} "
            f"Its figure is left out and its numbers read nan.",
        )

    def note(self, what: str = "This section") -> None:
        """Display the note (a warning box in the book, plain text in a terminal)."""
        from IPython.display import display

        display(self.note_object(what))


def _has_local_collection(names: Sequence[str], data_dir: Any) -> list[Path]:
    keys = {_spec(n).collection.key for n in names}
    return [d / k for d in _data_dirs(data_dir) for k in keys if (d / k).is_dir()]


def published_or_note(*names: str, **loader_kw: Any) -> PublishedSet:
    """Load published embeddings for a chapter; if they cannot be had, say so instead of failing.

    Every name is loaded with :func:`load_published_embeddings` (``loader_kw`` are passed on).
    Then:

    - all loaded: an available :class:`PublishedSet`;
    - a file is not the published one (:class:`PublishedDataError`): raised, never hidden;
    - unavailable although a local data folder holds the collection (``GAPKIT_DATA`` names a
      folder with ``liang2022/`` in it, as in CI): raised, so a build with the data folder
      never silently loses a section;
    - otherwise unavailable (no folder, no network): prints one line with the reason and returns
      an unavailable (falsy) set, whose :meth:`PublishedSet.note` each section shows in place of
      its figure.
    """
    if not names:
        raise ValueError("name at least one published embedding set, e.g. 'liang2022/clip'.")
    for n in names:
        _spec(n)
    loaded: dict[str, PublishedEmbeddings] = {}
    try:
        for n in names:
            loaded[n] = load_published_embeddings(n, **loader_kw)
    except PublishedDataUnavailableError as err:
        local = _has_local_collection(names, loader_kw.get("data_dir"))
        if local:
            raise PublishedDataUnavailableError(
                f"{err} The data folder {local[0]} exists, so the book must use it: add the missing file.") from err
        print(f"Published embeddings unavailable: {err}")
        return PublishedSet(tuple(names), {}, str(err))
    return PublishedSet(tuple(names), loaded, None)


def glue_or_nan(values: Mapping[str, Any] | None, names: Sequence[str]) -> None:
    """Glue a section's numbers, or NaN for each of ``names`` when ``values`` is None (data unavailable).

    The page's prose refers to every name, so each must be glued either way for the book to
    build; NaN prints as ``nan``. With ``values`` given, its keys must be exactly ``names``
    (a typo or a forgotten number is an error here, not a missing value on the page); numpy
    scalars are glued as Python numbers, so ``{glue:text}`name:.3f``` can format them.
    """
    from .notebook import glue

    names = list(names)
    if values is None:
        for n in names:
            glue(n, math.nan, display=False)
        return
    missing, extra = sorted(set(names) - set(values)), sorted(set(values) - set(names))
    if missing or extra:
        raise ValueError(f"glue_or_nan: values and names differ (missing {missing}, not declared {extra}).")
    for n in names:
        value = values[n]
        if isinstance(value, np.generic):  # numpy scalars print as np.float64(...), which the prose cannot format
            value = value.item()
        glue(n, value, display=False)
