"""Published result tables (not embeddings), read through the same loader as :mod:`gapkit._published`.

``restrepo2026``
    Restrepo et al. (2026), "On the Cone Effect and Modality Gap in Medical Vision-Language
    Embeddings" (arXiv:2603.17246), the authors' result files (repository ``dsrestrepo/Embedding-Alignment``,
    MIT licence per its README): the supervised experiment's 16 ``metrics.json`` (early fusion,
    one linear layer, five seeds 42-46, λ = 0, 0.1, ..., 1; mean and std of accuracy, macro-F1
    and AUC over the seeds) for CLIP, SigLIP, BioMedCLIP and MedSigLIP on BRSET, mBRSET, HAM10000
    and MIMIC-CXR.
``restrepo2026/cone``
    The same paper's cone-strength tables (mean resultant length R per model and modality, four
    medical and four natural data sets), parsed from ``Images/Summary/all_datasets_tables_latex.txt``.

Each file is found, downloaded and hash-checked exactly as the published embeddings are
(:func:`gapkit._published._fetch`: ``GAPKIT_DATA``, the cache, a pooch download pinned to the
file's own commit, the same errors); only the parsing is here. Per-seed values were not
published, so no paired comparison of two λ values is possible from these files. Chapters 3 and 6.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ._published import (_LOADER_PARAMS, DOWNLOAD_TIMEOUT_S, PublishedDataError, PublishedDataUnavailableError,
                         _Collection, _data_dirs, _fetch)
from ._validation import validate_params

__all__ = ["PUBLISHED_RESULTS", "RESTREPO_MODELS", "RESTREPO_MEDICAL_MODELS", "RESTREPO_DATASETS",
           "load_published_results", "published_results_or_none"]

_REPO = "dsrestrepo/Embedding-Alignment"
_RESTREPO = _Collection(
    key="restrepo2026",
    url_base=f"https://raw.githubusercontent.com/{_REPO}",
    citation='Restrepo et al. (2026), "On the Cone Effect and Modality Gap in Medical Vision-Language Embeddings"',
    source=f"github.com/{_REPO}",
    licence="MIT licence (per the repository's README)",
)
_C_MOST = "ca6a9f8fd1c207bbef85c7aaa6b73dd960e5cc69"  # every metrics.json but mimic/
_C_MIMIC = "02dd010455f8e56a0d5c06e520bf6b2b86ed5614"  # mimic/CLIP, mimic/BioMedCLIP
_C_CONE = "dd7572da003c34ba251dd70fbf26eba731a94fd6"  # Images/Summary/all_datasets_tables_latex.txt
_RUNS = "Images/Alignment_early_linear_5runs_batch512"

#: The four models, as the paper names them (the files' folder names).
RESTREPO_MODELS = ("CLIP", "SigLIP", "BioMedCLIP", "MedSigLIP")
#: The four medical data sets, in the paper's order.
RESTREPO_DATASETS = ("BRSET", "mBRSET", "HAM10000", "MIMIC-CXR")
#: The two models pretrained on medical data (CLIP and SigLIP are general-domain).
RESTREPO_MEDICAL_MODELS = ("BioMedCLIP", "MedSigLIP")
_NATURAL_DATASETS = ("COCO-QA", "Fakeddit", "Recipes5k", "DAQUAR")


@dataclass(frozen=True)
class _ResultFile:
    """One published result file: its path in the collection, pinned commit and SHA-256."""

    file: str
    sha256: str
    commit: str
    dataset: str = ""
    model: str = ""

    @property
    def collection(self) -> _Collection:
        return _RESTREPO

    @property
    def upstream_url(self) -> str:
        """The raw GitHub URL pinned to the file's commit."""
        return f"{_RESTREPO.url_base}/{self.commit}/{self.file}"

    @property
    def cache_name(self) -> str:
        """A flat name in the download cache (``brset__CLIP__metrics.json``): no folders to leave behind."""
        return self.file.removeprefix(_RUNS + "/").replace("/", "__")


def _metrics(folder: str, dataset: str, model: str, sha: str) -> _ResultFile:
    commit = _C_MIMIC if folder == "mimic" else _C_MOST
    return _ResultFile(f"{_RUNS}/{folder}/{model}/metrics.json", sha, commit, dataset, model)


_SHA = {  # ../shared/data/restrepo2026/SHA256SUMS
    ("brset", "BioMedCLIP"): "9a37fad226bf471d9b9ae356472c1e9a2ad567c06fa28516fb30b1121db39c19",
    ("brset", "CLIP"): "4281da96486ac40e73500ba4eb8b0a2e81f8c3565d22a9fa05d4de79f6dfe096",
    ("brset", "MedSigLIP"): "c28e37a374b279f8d831d6ae5b849a0d9860f8f08be5ac973e73adb3c0db9989",
    ("brset", "SigLIP"): "ff41346335ed6456866a96f17e67cf6d4b6cd21f03ea0698d0b7a2ba0f7e38e3",
    ("ham10000", "BioMedCLIP"): "1ced6e8c287a94b881f714a6cfbcb6cf8f9e5feb2186799cc1af152855383cda",
    ("ham10000", "CLIP"): "cd2f947dbec8a4648068ae66fd6e59eb0777b2d10a02cbf9c3d9eb91878f439e",
    ("ham10000", "MedSigLIP"): "941df8cdfb5aa1abfeacbf90b8e53eed4500340f4a748d1a0690ada3b70b7d23",
    ("ham10000", "SigLIP"): "bad0760fe3ade1f77e4b3cd51076e8a23dd2ce7673b5b85fa3635f7fb9844fee",
    ("mbrset", "BioMedCLIP"): "755fa64130b14fd545336e6ca1ba94d547a6c28ca588cfaa969f105f8d9a9ef5",
    ("mbrset", "CLIP"): "6317edfe694ed23d2eb9c7f5d8e54fa7041a5956d02c1e26e7d5a874aa2c9467",
    ("mbrset", "MedSigLIP"): "733b40e02bca43e86ae51ed0fcea08251ef7645aa08a3bf65ed3d509e8a61b73",
    ("mbrset", "SigLIP"): "38baaf8ee53b0e15a14c12105c5799731926951b3bc0f40c8aa9ffe658cd6356",
    ("mimic", "BioMedCLIP"): "a14a21d53335bb696f86c7c77bddd0f27eadc0bee41a861fbe02651b70d6cbc0",
    ("mimic", "CLIP"): "b319b315b66fbf599d224a2b32307f63590a85889873272f0cfaf37b6a9674ec",
    ("mimic_multi_label", "MedSigLIP"): "ae70d0b61b698dfe5ca421929eb8568b7c3f952abb04207c1b8fae79d9058e5d",
    ("mimic_multi_label", "SigLIP"): "4d0a107d9d455a19da4adeb05494e12c519a71378a5f5bc012288416808421a4",
}
_DATASET_OF = {"brset": "BRSET", "mbrset": "mBRSET", "ham10000": "HAM10000", "mimic": "MIMIC-CXR",
               "mimic_multi_label": "MIMIC-CXR"}
_ORDER = {(d, m): i for i, (d, m) in enumerate((d, m) for d in RESTREPO_DATASETS for m in RESTREPO_MODELS)}

_METRIC_FILES = tuple(sorted((_metrics(f, _DATASET_OF[f], m, sha) for (f, m), sha in _SHA.items()),
                             key=lambda r: _ORDER[(r.dataset, r.model)]))
_CONE_FILE = _ResultFile("Images/Summary/all_datasets_tables_latex.txt",
                         "f629e47eedb366d5f81fc704ac907e3e8aa05f168d83cc1243eda319b5b32d08", _C_CONE)

#: The names :func:`load_published_results` accepts, with what each holds.
PUBLISHED_RESULTS = {
    "restrepo2026": "Restrepo et al. (2026), supervised early fusion (linear head, 5 seeds): accuracy, macro-F1 "
                    "and AUC (mean, std) at λ = 0, 0.1, ..., 1 for 4 models x 4 medical data sets",
    "restrepo2026/cone": "Restrepo et al. (2026), cone strength R (mean resultant length) per model and modality, "
                         "4 medical and 4 natural data sets",
}

_METRIC_NAMES = {"Acc": "accuracy", "Macro-F1": "macro_f1", "AUC": "auc"}
_LAM_KEY = re.compile(r"early_\((-?\d+(?:\.\d+)?)\)")


def _read_metrics(path: Path, spec: _ResultFile) -> list[dict[str, Any]]:
    """The rows of one ``metrics.json``; anything but the published layout raises :class:`PublishedDataError`."""
    def bad(why: str) -> PublishedDataError:
        return PublishedDataError(f"{spec.file} ({path}): {why}; expected keys 'early_(<λ>)' each holding "
                                  "{'mean': {'Acc', 'Macro-F1', 'AUC'}, 'std': {...}} of finite numbers.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad(f"not JSON ({err})") from err
    if not isinstance(data, dict) or not data:
        raise bad("not a non-empty JSON object")
    rows = []
    for key, entry in data.items():
        m = _LAM_KEY.fullmatch(key)
        if m is None or not isinstance(entry, dict) or set(entry) != {"mean", "std"}:
            raise bad(f"entry {key!r} is not of the form early_(λ): {{mean, std}}")
        for short, metric in _METRIC_NAMES.items():
            mean, std = entry["mean"].get(short), entry["std"].get(short)
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (mean, std)):
                raise bad(f"{key} has no finite mean and std of {short!r}")
            rows.append({"dataset": spec.dataset, "domain": "medical", "model": spec.model, "lam": float(m.group(1)),
                         "metric": metric, "mean": float(mean), "std": float(std), "n_seeds": 5})
    return rows


_TABLE = re.compile(r"\\caption\{Mean Resultant Length \(\$R\$\) - (Text|Image) Embeddings.*?\\begin\{tabular\}"
                    r"\{[^}]*\}(.*?)\\end\{tabular\}", re.S)
_SECTION = re.compile(r"\\textit\{(Medical|Natural) Datasets\}")


def _read_cone(path: Path, spec: _ResultFile) -> list[dict[str, Any]]:
    """The rows of the two LaTeX cone-strength tables (text, image); anything unexpected raises."""
    text = path.read_text(encoding="utf-8")
    tables = _TABLE.findall(text)
    if sorted(t[0] for t in tables) != ["Image", "Text"]:
        raise PublishedDataError(f"{spec.file} ({path}): expected one text and one image table of R, "
                                 f"found {[t[0] for t in tables]}.")
    rows = []
    for modality, body in tables:
        lines = [ln.strip().removesuffix("\\\\").strip() for ln in body.splitlines()]
        header = next((ln for ln in lines if ln.startswith(r"\textbf{Dataset}")), None)
        models = [re.sub(r"\\textbf\{(.*)\}", r"\1", c.strip()) for c in header.split("&")[1:]] if header else []
        if models != list(RESTREPO_MODELS):
            raise PublishedDataError(f"{spec.file} ({path}): the {modality} table's columns are {models}, "
                                     f"not {list(RESTREPO_MODELS)}.")
        domain = None
        for ln in lines:
            if (sec := _SECTION.search(ln)) is not None:
                domain = sec.group(1).lower()
                continue
            cells = [c.strip() for c in ln.split("&")]
            if len(cells) != 5 or ln.startswith(r"\textbf"):
                continue
            try:
                values = [float(c) for c in cells[1:]]
            except ValueError as err:
                raise PublishedDataError(f"{spec.file} ({path}): row {ln!r} is not a data set and four R values.") \
                    from err
            if domain is None or not all(0 <= v <= 1 for v in values):
                raise PublishedDataError(f"{spec.file} ({path}): row {ln!r} has no section or an R outside [0, 1].")
            rows += [{"dataset": cells[0], "domain": domain, "model": mod, "modality": modality.lower(), "R": v}
                     for mod, v in zip(models, values)]
    expected = set(RESTREPO_DATASETS) | set(_NATURAL_DATASETS)
    found = {r["dataset"] for r in rows}
    if found != expected or len(rows) != 2 * len(expected) * len(RESTREPO_MODELS):
        raise PublishedDataError(f"{spec.file} ({path}): expected R for {sorted(expected)} in both tables, "
                                 f"found {sorted(found)} ({len(rows)} values).")
    return rows


@validate_params(_LOADER_PARAMS)
def load_published_results(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    url_base: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> Any:
    """A paper's published result table, as a tidy :class:`pandas.DataFrame` (chapters 3 and 6).

    Every file is found and checked as :func:`gapkit.datasets.load_published_embeddings` does:
    a local folder (``data_dir`` or ``GAPKIT_DATA``, holding ``restrepo2026/<path>`` laid out as
    upstream), gapkit's download cache, or a pooch download pinned to the file's commit
    (``url_base`` / ``GAPKIT_DATA_URL``: a mirror laid out like a data folder), each checked
    against its pinned SHA-256.

    Parameters
    ----------
    name : str
        ``"restrepo2026"`` (the 16 ``metrics.json``) or ``"restrepo2026/cone"`` (the R tables);
        see :data:`PUBLISHED_RESULTS`.
    data_dir, url_base, cache_dir, download, timeout
        As for :func:`gapkit.datasets.load_published_embeddings`.

    Returns
    -------
    pandas.DataFrame
        ``"restrepo2026"``: columns ``dataset, domain, model, lam, metric, mean, std, n_seeds``
        (metric one of ``accuracy``, ``macro_f1``, ``auc``; std over the ``n_seeds`` = 5 runs as
        the authors computed it); 528 rows. ``"restrepo2026/cone"``: columns
        ``dataset, domain, model, modality, R`` (modality ``image`` or ``text``, domain
        ``medical`` or ``natural``); 64 rows.

    Raises
    ------
    ValueError
        An unknown name.
    PublishedDataError
        A file whose SHA-256 is not the published one, or whose content is not the published layout.
    PublishedDataUnavailableError
        No local copy, nothing cached and no download possible; the message names the file, the
        URL and the ``GAPKIT_DATA`` remedy.

    Examples
    --------
    >>> res = load_published_results("restrepo2026")          # doctest: +SKIP
    >>> res.query("metric == 'auc' and lam == 0").head()      # doctest: +SKIP
    """
    import pandas as pd

    if name not in PUBLISHED_RESULTS:
        raise ValueError(f"unknown published results {name!r}; available: {', '.join(PUBLISHED_RESULTS)}.")
    kw = {"data_dir": data_dir, "url_base": url_base, "cache_dir": cache_dir, "download": download,
          "timeout": timeout}
    if name == "restrepo2026/cone":
        rows = _fetch(_CONE_FILE, name, lambda p: _read_cone(p, _CONE_FILE), what="published results", **kw)
        return pd.DataFrame(rows, columns=["dataset", "domain", "model", "modality", "R"])
    rows = []
    for spec in _METRIC_FILES:
        rows += _fetch(spec, name, lambda p, s=spec: _read_metrics(p, s), what="published results", **kw)
    df = pd.DataFrame(rows, columns=["dataset", "domain", "model", "lam", "metric", "mean", "std", "n_seeds"])
    return df.sort_values(["dataset", "model", "metric", "lam"], key=_paper_order, kind="stable",
                          ignore_index=True)


def _paper_order(col: Any) -> Any:
    """Sort key: data sets and models in the paper's order, the rest as they are."""
    order = {"dataset": RESTREPO_DATASETS, "model": RESTREPO_MODELS}.get(col.name)
    return col.map({v: i for i, v in enumerate(order)}) if order else col


def published_results_or_none(name: str, **loader_kw: Any) -> Any:
    """:func:`load_published_results` for a chapter: None, with one printed line, when the files cannot be had.

    As :func:`gapkit.datasets.published_or_note` does for embeddings: a file that is not the
    published one raises; unavailable files raise too when a local data folder holds the
    collection (``GAPKIT_DATA`` names a folder with ``restrepo2026/`` in it, as in CI), so a
    build with the data never silently loses a section; otherwise (no folder, no network) the
    reason is printed and None returned, and the chapter shows a note and glues NaN
    (:func:`gapkit.datasets.glue_or_nan`). Chapters 3 and 6.
    """
    try:
        return load_published_results(name, **loader_kw)
    except PublishedDataUnavailableError as err:
        local = [d / _RESTREPO.key for d in _data_dirs(loader_kw.get("data_dir")) if (d / _RESTREPO.key).is_dir()]
        if local:
            raise PublishedDataUnavailableError(
                f"{err} The data folder {local[0]} exists, so the book must use it: add the missing file.") from err
        print(f"Published results unavailable: {err}")
        return None
