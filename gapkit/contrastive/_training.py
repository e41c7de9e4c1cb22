"""The public constructors: :func:`init_mini_clip`, :func:`train_mini_clip` and the training loop."""

from __future__ import annotations

import time
import dataclasses
import hashlib
from typing import Any, Sequence

import numpy as np

from .._io import cache_root, read_checked, write_or_warn
from .._validation import Interval, Real, check_param, check_texts, l2_normalize
from ._cache import _hash
from ._device import _torch_threads
from ._model import MiniCLIP, _image_batches, clip_loss
from ._options import MiniCLIPConfig, _cache_config, _config
from ._params import _VERSION, TEXT_BACKBONE
from ._retrieval import _evaluate
from ._text import text_features
from ._weights import _load_weights, _state_digest


# ---------------------------------------------------------------------------
# public constructors
# ---------------------------------------------------------------------------


def init_mini_clip(
    dataset: Any = None,
    *,
    temperature: float = 0.01,
    learnable_temperature: bool = False,
    seed: int = 0,
    embed_dim: int = 128,
    device: str = "auto",
    **options: Any,
) -> MiniCLIP:
    """The untrained model (random initialisation, seeded): measure the gap at init with it.

    Same architecture and seed as :func:`train_mini_clip` with the same
    arguments, so ``init_mini_clip(...)`` is exactly the starting point of
    ``train_mini_clip(...)``. ``dataset`` is only used for the model's name.
    """
    cfg = _config(temperature, learnable_temperature, options.pop("epochs", 0), seed, embed_dim, options)
    return MiniCLIP(cfg, device, dataset_name=getattr(dataset, "name", "") or "")


#: Pairs of the tracked subsample whose positions ``history["plane"]`` records at every epoch.
PLANE_PAIRS = 128


def _track(model: MiniCLIP, x, feats, idx: np.ndarray, plane: list[dict[str, Any]] | None = None
           ) -> tuple[float, float]:
    """Centroid gap and paired cosine on a fixed subsample (≤ 512 pairs): the per-epoch trajectory.

    With ``plane``, also appends the first :data:`PLANE_PAIRS` tracked pairs' unit rows in the
    model's own gap plane (:func:`gapkit.shift.gap_plane`: Δ horizontal, the main spread orthogonal
    to it vertical, its sign fixed by the first image), with the gap and paired cosine: chapter 2's
    explorable figure of training.
    """
    import torch

    from ..geometry import centroid_gap, gap_vector, paired_cosine

    with torch.no_grad():
        model.image_tower.eval()
        model.text_head.eval()
        v = model._forward_images(x[idx]).float().cpu().numpy()
        t = model._forward_text_features(feats[idx]).float().cpu().numpy()
    gap, cosine = centroid_gap(v, t), paired_cosine(v, t)
    if plane is not None:
        from .._validation import l2_normalize
        from ..shift import gap_plane

        basis = gap_plane(gap_vector(v, t), v, t)
        uv, ut = (l2_normalize(a, dtype=np.float64)[:PLANE_PAIRS] @ basis for a in (v, t))
        if uv[0, 1] < 0:
            uv[:, 1] *= -1
            ut[:, 1] *= -1
        plane.append({"gap": gap, "paired_cosine": cosine, "image": np.round(uv, 4).tolist(),
                      "text": np.round(ut, 4).tolist()})
    return gap, cosine


def _fit(model: MiniCLIP, dataset: Any, cfg: MiniCLIPConfig, fp: str, verbose: bool,
         negatives: Sequence[str] | None = None) -> None:
    import torch

    start = time.perf_counter()
    dev = model.device
    x = torch.cat(list(_image_batches(dataset.images, cfg.image_size, dev, 1024)))
    feats = torch.from_numpy(text_features(dataset.texts, device=dev)).to(dev)
    neg_feats = None if negatives is None else torch.from_numpy(text_features(list(negatives), device=dev)).to(dev)
    n = len(dataset)
    texts = list(dataset.texts)
    history: dict[str, Any] = {"loss": [], "temperature": [], "gap": [], "paired_cosine": [], "n_pairs": n,
                               "dataset": dataset.name, "dataset_fingerprint": fp}
    track = np.sort(np.random.default_rng(0).choice(n, size=min(n, 512), replace=False))
    init = _evaluate(model, x, feats, texts)
    history["plane"] = []  # epoch 0 (initialisation), 1, 2, ...: see _track
    _track(model, x, feats, track, history["plane"])
    history.update({f"{k}_init": v for k, v in init.items() if k != "retrieval_chance"})
    history["retrieval_chance"] = init["retrieval_chance"]

    params = [p for p in model.parameters() if p is not model.log_scale]  # a shared layer's weights once
    groups = [{"params": params, "weight_decay": cfg.weight_decay}]
    if cfg.learnable_temperature:
        groups.append({"params": [model.log_scale], "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    max_log_scale = float(np.log(100.0))
    bs = max(2, min(cfg.batch_size, n))
    # temperature schedule: log(1/τ) linear in the step, from the first step to the last
    steps = cfg.epochs * sum(1 for s in range(0, n, bs) if min(bs, n - s) >= 2)
    schedule = None
    if cfg.temperature_end is not None:
        schedule = np.linspace(np.log(1.0 / cfg.temperature), np.log(1.0 / cfg.temperature_end), max(steps, 1))
    # modality swapping draws from its own generator, so the batch order is the same with and without it
    swap_gen = torch.Generator().manual_seed(cfg.seed + 1) if cfg.modality_swap > 0 else None
    step = 0
    for epoch in range(cfg.epochs):
        model.image_tower.train()
        model.text_head.train()
        order = torch.randperm(n, generator=gen).to(dev)
        total, count = 0.0, 0
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            if len(idx) < 2:
                continue
            if schedule is not None:
                with torch.no_grad():
                    model.log_scale.fill_(float(schedule[step]))
            step += 1
            v_emb, t_emb = model._forward_images(x[idx]), model._forward_text_features(feats[idx])
            if swap_gen is not None:  # swapped pairs: image and text trade sides of the similarity matrix
                swap = (torch.rand(len(idx), generator=swap_gen) < cfg.modality_swap).to(dev)[:, None]
                v_emb, t_emb = torch.where(swap, t_emb, v_emb), torch.where(swap, v_emb, t_emb)
            negs = None if neg_feats is None else model._forward_text_features(neg_feats[idx])
            loss = clip_loss(v_emb, t_emb, model.log_scale.exp(), negs)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cfg.learnable_temperature:
                with torch.no_grad():
                    model.log_scale.clamp_(max=max_log_scale)
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history["loss"].append(total / max(count, 1))
        history["temperature"].append(model.temperature)
        g, c = _track(model, x, feats, track, history["plane"])
        history["gap"].append(g)
        history["paired_cosine"].append(c)
        if verbose and (epoch % max(1, cfg.epochs // 5) == 0 or epoch == cfg.epochs - 1):
            print(f"epoch {epoch + 1:3d}/{cfg.epochs}: loss {history['loss'][-1]:.4f}, τ {model.temperature:.4g}")
    final = _evaluate(model, x, feats, texts)
    history.update({f"{k}_final": v for k, v in final.items() if k != "retrieval_chance"})
    history["seconds"] = time.perf_counter() - start
    history["from_cache"] = False
    model.history = history
    model.trained = True
    model._update_ids()


def train_mini_clip(
    dataset: Any,
    temperature: float = 0.01,
    learnable_temperature: bool = False,
    epochs: int = 20,
    seed: int = 0,
    embed_dim: int = 128,
    device: str = "auto",
    *,
    cache: bool = True,
    verbose: bool = False,
    threads: int | None = 1,
    hard_negatives: Sequence[str] | None = None,
    filter_pairs: float = 0.0,
    **options: Any,
) -> MiniCLIP:
    """Train (or load from the cache) a mini CLIP on ``dataset``'s image–text pairs.

    Parameters
    ----------
    dataset : gapkit.datasets.PairedDataset
        Training pairs (use ``dataset.split()`` first to keep a test set).
    temperature : float
        τ of the InfoNCE loss; 0.01 is CLIP's. With ``learnable_temperature``
        this is the initial value.
    learnable_temperature : bool
    epochs : int
        Passes over the data (scale with the profile: a few seconds per run
        on 2 CPU cores at n ≈ 3,000).
    seed : int
        Initialisation and batch order.
    embed_dim : int
        Joint-space dimension.
    device : str
        ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
    cache : bool
        Load/save weights under :func:`cache_dir` keyed by the dataset
        fingerprint and all hyperparameters (atomic write).
    verbose : bool
        Print the loss every few epochs.
    threads : int or None
        torch CPU threads while training (default 1: these matrices are
        small, and one thread is several times faster than two on a busy
        machine); ``None`` keeps torch's setting. Not part of the cache key.
    **options
        Other :class:`MiniCLIPConfig` fields (``lr``, ``batch_size``,
        ``image_hidden``, ``text_hidden``, ``patch_size``, ``patch_channels``, ``weight_decay``;
        the training-time remedies of Yaras et al. 2025: ``temperature_end=`` for a log-linear
        temperature schedule from ``temperature`` to it, ``modality_swap=`` for the probability
        that a pair's image and text trade places in the loss; the remedies of the survey
        (chapter 5): ``shared_towers=True`` for one last layer shared by both towers (Eslami et
        al.), ``same_init=True`` for one initialisation of that layer in both).
    hard_negatives : sequence of str, optional
        One caption per pair, a near miss (e.g. one attribute changed:
        :func:`gapkit.datasets.shape_hard_negatives`), scored as an extra negative for its batch's
        images (Jiang et al.). Their digest is part of the cache key.
    filter_pairs : float in [0, 1)
        Filtering (Schrodi et al.): train a first model with the same settings (cached), drop this
        share of the pairs it finds least similar (lowest cosine of image and caption), and train
        the returned model from the same initialisation, for the same epochs, on the rest.
        ``history["filtered_out"]`` holds the dropped pair indices. 0 (default): no filtering.

    Returns
    -------
    MiniCLIP
        With ``history`` filled (loss per epoch; gap, paired cosine and
        retrieval at initialisation and after training, on the training pairs;
        ``history["plane"]``: 128 training pairs in the model's gap plane at
        initialisation and after every epoch, for chapter 2's explorable figure).

    Chapter 2.
    """
    import torch

    cfg = _config(temperature, learnable_temperature, epochs, seed, embed_dim, options)
    if len(dataset) < 2:
        raise ValueError("need at least 2 pairs to train a contrastive model.")
    if hard_negatives is not None:
        hard_negatives = check_texts(hard_negatives, name="train_mini_clip: hard_negatives")
        if len(hard_negatives) != len(dataset):
            raise ValueError(f"train_mini_clip: hard_negatives must hold one caption per pair, got "
                             f"{len(hard_negatives)} for {len(dataset)} pairs.")
        digest = hashlib.blake2b("\x1f".join(hard_negatives).encode(), digest_size=8).hexdigest()
        cfg = dataclasses.replace(cfg, hard_negatives=digest)
    filter_pairs = check_param("filter_pairs", filter_pairs, [Interval(Real, 0, 1, closed="left")],
                               owner="train_mini_clip")
    if filter_pairs > 0:
        return _filtered(dataset, filter_pairs, hard_negatives, dict(
            temperature=temperature, learnable_temperature=learnable_temperature, epochs=epochs, seed=seed,
            embed_dim=embed_dim, device=device, cache=cache, verbose=verbose, threads=threads, **options))
    fp = dataset.fingerprint()
    path = cache_root("mini-clip") / f"{_hash(_VERSION, TEXT_BACKBONE, fp, _cache_config(cfg))}.pt"
    model = MiniCLIP(cfg, device, dataset_name=dataset.name)
    if cache:
        blob = read_checked(path, lambda f: _load_weights(f, cfg), what="mini-clip weights")
        if blob is not None:
            model.load_state_dict(blob["state"])
            model.trained = True
            model.history = dict(blob["history"], from_cache=True)
            model._update_ids()
            return model

    with _torch_threads(threads if model.device == "cpu" else None):
        _fit(model, dataset, cfg, fp, verbose, hard_negatives)
    if cache:
        state = model.state_dict()
        blob = {"version": _VERSION, "config": _cache_config(cfg), "state": state, "sha256": _state_digest(state),
                "history": model.history}
        write_or_warn(path, lambda fh: torch.save(blob, fh), what="mini-clip weights")
    return model


def _filtered(dataset: Any, share: float, negatives: Sequence[str] | None, kw: dict[str, Any]) -> MiniCLIP:
    """``train_mini_clip(..., filter_pairs=share)``: a first model, its least similar pairs dropped, a second model."""
    first = train_mini_clip(dataset, hard_negatives=negatives, **kw)
    v = l2_normalize(first.embed_images(dataset.images))
    t = l2_normalize(first.embed_texts(dataset.texts))
    cos = np.einsum("ij,ij->i", v, t)
    n_drop = int(round(share * len(dataset)))
    if len(dataset) - n_drop < 2:
        raise ValueError(f"train_mini_clip: filter_pairs={share} drops {n_drop} of {len(dataset)} pairs and leaves "
                         "fewer than 2 to train on; use a smaller share.")
    order = np.argsort(cos, kind="stable")
    drop, keep = np.sort(order[:n_drop]), np.sort(order[n_drop:])
    kept = dataset.subset(keep, name=f"{dataset.name}/filtered{share:g}")
    model = train_mini_clip(kept, hard_negatives=None if negatives is None else [negatives[i] for i in keep], **kw)
    model.history = dict(model.history, filtered_out=drop, filter_share=float(share),
                         filter_first_model=first.fingerprint())
    return model
