"""Tests for gapkit.train: the batched sweep equals the one-head reference; no leakage; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gapkit.geometry import gap_vector
from gapkit.shift import LambdaShift
from gapkit.train import SweepResult, infer_task, split_indices, sweep_lambda, train_head

SMALL = dict(max_epochs=12, batch_size=64, progress=False)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: one CPU thread is faster and immune to contention on shared machines."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def labelled_pairs(n=300, d=12, task="binary", seed=0, signal=1.5):
    """Synthetic paired embeddings with a modality gap and a label signal in both modalities."""
    rng = np.random.default_rng(seed)
    if task == "binary":
        y = rng.integers(0, 2, n)
        code = np.eye(2)[y]
    elif task == "multiclass":
        y = rng.integers(0, 3, n)
        code = np.eye(3)[y]
    else:
        y = (rng.random((n, 3)) < 0.4).astype(int)
        code = y.astype(float)
    proj = rng.normal(size=(code.shape[1], d))
    img = 2.0 + signal * code @ proj + rng.normal(size=(n, d))
    txt = -1.0 + signal * code @ proj + rng.normal(size=(n, d))
    return img, txt, y


@pytest.mark.parametrize("task,head", [("binary", "linear"), ("multiclass", "linear"), ("multiclass", "mlp"),
                                       ("multilabel", "linear"), ("binary", "mlp")])
def test_batched_equals_one_head_at_a_time(task, head):
    img, txt, y = labelled_pairs(task=task)
    kw = dict(lams=[0.0, 0.5, 1.0], seeds=(42, 43), head=head, dtype="float64", device="cpu", **SMALL)
    fast = sweep_lambda(img, txt, y, **kw)
    slow = sweep_lambda(img, txt, y, batched=False, **kw)
    assert fast.task == task
    pd.testing.assert_frame_equal(fast.table, slow.table, atol=1e-9, rtol=0)
    pd.testing.assert_frame_equal(fast.training, slow.training, atol=1e-9, rtol=0)


def test_padded_lambda_slots_change_nothing(monkeypatch):
    """11 λ get a twelfth, masked slot on CPU (faster products); with early stopping shrinking the set, the
    numbers equal those without padding and those of one head at a time."""
    import gapkit.train._fit as fit

    assert fit._lam_slots(11, 1, "linear", torch.device("cpu")) == 12
    assert fit._lam_slots(12, 1, "linear", torch.device("cpu")) == 12
    assert fit._lam_slots(7, 1, "linear", torch.device("cpu")) == 8
    assert fit._lam_slots(3, 1, "linear", torch.device("cpu")) == 3         # 4 rows are slower than 3
    assert fit._lam_slots(11, 3, "linear", torch.device("cpu")) == 11      # multiclass: no padding
    assert fit._lam_slots(11, 1, "mlp", torch.device("cpu")) == 11
    img, txt, y = labelled_pairs(n=300, d=24, signal=0.3, seed=3)   # weak signal, high lr: heads stop early
    kw = dict(lams=np.linspace(0, 1, 11), seeds=(42, 43), dtype="float64", device="cpu", max_epochs=100,
              batch_size=64, patience=2, lr=3e-2, progress=False)
    padded = sweep_lambda(img, txt, y, **kw)
    assert padded.training.epochs.nunique() > 1                              # heads stopped at different epochs
    slow = sweep_lambda(img, txt, y, batched=False, **kw)
    monkeypatch.setattr(fit, "_lam_slots", lambda width, *args: width)
    plain = sweep_lambda(img, txt, y, **kw)
    pd.testing.assert_frame_equal(padded.table, plain.table, atol=1e-12, rtol=0)
    pd.testing.assert_frame_equal(padded.training, plain.training, atol=1e-12, rtol=0)
    pd.testing.assert_frame_equal(padded.table, slow.table, atol=1e-9, rtol=0)


def test_batched_equals_train_head_float32():
    img, txt, y = labelled_pairs(seed=1)
    res = sweep_lambda(img, txt, y, lams=[0.0, 1.0], seeds=(7,), device="cpu", **SMALL)
    tr, te = res.splits[7]
    shift = LambdaShift(lam=1.0).fit(img[tr], txt[tr])          # Δ from the training split only
    v_tr, t_tr = shift.transform(img[tr], txt[tr])
    v_te, t_te = shift.transform(img[te], txt[te])
    ref = train_head(np.hstack([t_tr, v_tr]), y[tr], np.hstack([t_te, v_te]), y[te], seed=7, device="cpu",
                     max_epochs=12, batch_size=64)
    got = res.table[res.table.lam == 1.0].set_index("metric")["value"]
    for m in ("accuracy", "f1_macro", "auc"):
        assert got[m] == pytest.approx(ref[m], abs=2e-3)
    assert res.training[res.training.lam == 1.0].epochs.item() == ref["epochs"]


def test_sweep_fits_delta_on_train_split_only():
    img, txt, y = labelled_pairs()
    kw = dict(lams=[0.0, 1.0], seeds=(42, 43), device="cpu", max_epochs=2, batch_size=128, progress=False)
    res = sweep_lambda(img, txt, y, **kw)
    for s in (42, 43):
        tr, te = res.splits[s]
        assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)
        np.testing.assert_allclose(res.deltas[s], gap_vector(img[tr], txt[tr]))
        assert not np.allclose(res.deltas[s], gap_vector(img, txt))
    # altering the test rows' embeddings leaves every Δ untouched
    img2 = img.copy()
    img2[res.splits[42][1]] *= -3
    np.testing.assert_array_equal(sweep_lambda(img2, txt, y, seeds=(42,), **{k: v for k, v in kw.items() if k != "seeds"}).deltas[42],
                                  res.deltas[42])
    trans = sweep_lambda(img, txt, y, transductive=True, **kw)
    np.testing.assert_allclose(trans.deltas[42], gap_vector(img, txt))
    # split_seed fixes one outer split for every run
    fixed = sweep_lambda(img, txt, y, split_seed=42, **kw)
    np.testing.assert_array_equal(fixed.splits[43][1], fixed.splits[42][1])


def test_sweep_result_api_and_learning():
    img, txt, y = labelled_pairs(n=400, signal=2.0)
    lams = [0.0, 0.5, 1.0]
    res = sweep_lambda(img, txt, y, lams=lams, seeds=(42, 43, 44), device="cpu", max_epochs=60, batch_size=64, lr=1e-2,
                       patience=2, progress=False)
    assert isinstance(res, SweepResult)
    assert list(res.table.columns) == ["lam", "seed", "metric", "value"]
    assert len(res.table) == 3 * 3 * 3
    summ = res.summary()
    assert list(summ.index) == lams and ("auc", "mean") in summ.columns and ("f1_macro", "std") in summ.columns
    assert res.best_lambda("auc") in lams
    assert (res.table[res.table.metric == "auc"].value > 0.8).all()
    gaps = res.gap_by_lambda()["centroid_gap"].to_numpy()
    assert gaps[0] > gaps[1] > gaps[2] > 0
    with pytest.raises(ValueError, match="metric"):
        res.best_lambda("precision")
    # per-seed values pair up across λ: the paired gain is the mean of per-seed differences
    per_seed = res.per_seed("auc")
    assert list(per_seed.index) == [42, 43, 44] and list(per_seed.columns) == lams
    auc = res.table[(res.table.metric == "auc") & (res.table.seed == 43) & (res.table.lam == 0.5)].value.item()
    assert per_seed.loc[43, 0.5] == auc
    paired = res.paired_gain(1.0)
    np.testing.assert_allclose(paired.differences, (per_seed[1.0] - per_seed[0.0]).to_numpy())
    assert paired.mean == pytest.approx(summ.loc[1.0, ("auc", "mean")] - summ.loc[0.0, ("auc", "mean")])
    with pytest.raises(ValueError, match="not on this sweep's λ grid"):
        res.paired_gain(0.3)


def test_early_stopping_per_head():
    img, txt, y = labelled_pairs(n=300, d=24, signal=0.3, seed=3)   # weak signal: validation loss turns up
    kw = dict(lams=[0.0, 0.5, 1.0], seeds=(42, 43), device="cpu", max_epochs=100, batch_size=64, lr=3e-2, patience=2,
              progress=False, dtype="float64")
    res = sweep_lambda(img, txt, y, **kw)
    tr = res.training
    assert (tr.best_epoch <= tr.epochs).all() and (tr.epochs <= 100).all()
    assert (tr.epochs < 100).all()                                # every head stopped early
    assert (tr.epochs - tr.best_epoch == 2).all()                 # ... exactly `patience` epochs after its best
    assert tr.epochs.nunique() > 1                                # at different epochs: masking is exercised
    ref = sweep_lambda(img, txt, y, batched=False, **kw)          # stopped heads froze at their best weights
    pd.testing.assert_frame_equal(res.table, ref.table, atol=1e-9, rtol=0)
    pd.testing.assert_frame_equal(res.training, ref.training, atol=1e-9, rtol=0)


def test_task_inference_and_split():
    assert infer_task([0, 1, 1, 0]) == "binary"
    assert infer_task([0, 2, 1, 0]) == "multiclass"
    assert infer_task(np.array([[0, 1], [1, 1]])) == "multilabel"
    y = np.array([0] * 80 + [1] * 20)
    tr, te = split_indices(y, 0.2, 42)
    assert len(te) == 20 and y[te].sum() == 4                     # stratified
    np.testing.assert_array_equal(split_indices(y, 0.2, 42)[1], te)


def test_bad_inputs_raise():
    img, txt, y = labelled_pairs(n=60)
    kw = dict(lams=[0.0], seeds=(42,), device="cpu", max_epochs=1, progress=False)
    with pytest.raises(ValueError, match="different numbers of rows"):
        sweep_lambda(img, txt[:-1], y, **kw)
    with pytest.raises(ValueError, match="labels for"):
        sweep_lambda(img, txt, y[:-1], **kw)
    with pytest.raises(ValueError, match="one class"):
        sweep_lambda(img, txt, np.zeros(60, dtype=int), **kw)
    y_nan = y.astype(float)
    y_nan[4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sweep_lambda(img, txt, y_nan, **kw)
    bad = img.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        sweep_lambda(bad, txt, y, **kw)
    with pytest.raises(ValueError, match="shape"):
        sweep_lambda(img, txt, y.reshape(60, 1, 1), **kw)
    with pytest.raises(ValueError, match="head"):
        sweep_lambda(img, txt, y, head="transformer", **kw)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        sweep_lambda(img, txt, np.arange(60) % 3, task="binary", **kw)
    with pytest.raises(ValueError, match="features"):
        train_head(img, y, img[:, :3], y, max_epochs=1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    img, txt, y = labelled_pairs(task="multiclass")
    kw = dict(lams=[0.0, 1.0], seeds=(42, 43), head="mlp", dtype="float64", **SMALL)
    gpu = sweep_lambda(img, txt, y, device="cuda", **kw)
    cpu = sweep_lambda(img, txt, y, device="cpu", **kw)
    assert gpu.device.startswith("cuda")
    pd.testing.assert_frame_equal(gpu.table, cpu.table, atol=1e-6, rtol=0)


@pytest.mark.parametrize("renormalize", [True, False])
def test_gap_columns_match_geometry(renormalize):
    from gapkit.geometry import centroid_gap, mean_resultant_length

    img, txt, y = labelled_pairs(n=200)
    lams = [-0.5, 0.0, 0.5, 1.0]
    res = sweep_lambda(img, txt, y, lams=lams, seeds=(42,), device="cpu", max_epochs=1, progress=False,
                       renormalize=renormalize)
    tr = res.splits[42][0]
    for lam in lams:
        row = res.gaps[res.gaps.lam == lam].iloc[0]
        vi, ti = LambdaShift(lam, renormalize=renormalize).fit(img[tr], txt[tr]).transform(img[tr], txt[tr])
        if renormalize:
            assert row.centroid_gap == pytest.approx(centroid_gap(vi, ti), abs=1e-12)
            assert row.image_R == pytest.approx(mean_resultant_length(vi), abs=1e-12)
            assert row.text_R == pytest.approx(mean_resultant_length(ti), abs=1e-12)
        else:  # the un-normalised features: exactly (1 − λ)‖Δ‖
            assert row.centroid_gap == pytest.approx(abs(1 - lam) * np.linalg.norm(res.deltas[42]), abs=1e-12)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("renormalize", [True, False])
def test_closed_form_linear_gradients_match_autograd(task, renormalize):
    from gapkit.train import _BatchedHeads, _batched_loss, _init_params, _inv_norms

    S, L, d, B, K = 2, 3, 6, 10, (1 if task == "binary" else 3)
    gen = torch.Generator().manual_seed(0)
    model = _BatchedHeads([_init_params(2 * d, K, "linear", 8, s)[0] for s in range(S)], L, d, "linear",
                          torch.device("cpu"), torch.float64)
    X = torch.nn.functional.normalize(torch.randn(S, B, 2, d, generator=gen, dtype=torch.float64), dim=-1)
    delta = 0.3 * torch.randn(S, d, generator=gen, dtype=torch.float64)
    P = torch.einsum("sbmd,sd->sbm", X, delta)
    X = X.reshape(S, B, 2 * d)
    c = torch.tensor([[0.0, 0.25, 0.5], [0.0, -0.25, -0.5]], dtype=torch.float64)
    if task == "multiclass":
        y = torch.randint(0, K, (S, B), generator=gen)
    elif task == "binary":
        y = torch.randint(0, 2, (S, B), generator=gen).double()
    else:
        y = torch.randint(0, 2, (S, B, K), generator=gen).double()
    weights = 0.5 + torch.rand(S, K, generator=gen, dtype=torch.float64)
    mask = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
    R = _inv_norms(P, c, (delta**2).sum(-1)) if renormalize else None
    # R is 1/‖x̂ + cΔ‖ per row, modality and λ, computed from the shifted rows themselves
    shifted = X.view(S, B, 2, 1, d) + c.reshape(1, 1, 2, L, 1) * delta[:, None, None, None, :]
    torch.testing.assert_close(_inv_norms(P, c, (delta**2).sum(-1)), 1 / torch.linalg.norm(shifted, dim=-1),
                               atol=1e-12, rtol=0)
    loss = (_batched_loss(model.forward(X, R, delta, c), y, task, weights) * mask).sum()
    auto = torch.autograd.grad(loss, model.params)
    closed = model.linear_grads(X, R, y, delta, c, task, weights, mask)
    for a, b in zip(auto, closed):
        torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-10)


def test_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    from gapkit.train import evaluate_predictions

    rng = np.random.default_rng(0)
    n = 200
    # binary, with tied scores
    y = rng.integers(0, 2, n)
    p = np.round(rng.random(n), 1)
    got = evaluate_predictions(y, p, "binary")
    pred = (p >= 0.5).astype(int)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro", labels=[0, 1], zero_division=0))
    assert got["auc"] == pytest.approx(roc_auc_score(y, p))
    # multiclass (one class never predicted)
    y = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4))
    logits[:, 3] -= 5
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    got = evaluate_predictions(y, proba, "multiclass")
    assert got["f1_macro"] == pytest.approx(f1_score(y, proba.argmax(1), average="macro", zero_division=0))
    assert got["auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    # multilabel
    y = (rng.random((n, 3)) < 0.3).astype(int)
    proba = rng.random((n, 3))
    got = evaluate_predictions(y, proba, "multilabel")
    assert got["accuracy"] == pytest.approx(np.mean((proba >= 0.5) == y))       # mean per-label accuracy
    assert got["f1_macro"] == pytest.approx(f1_score(y, (proba >= 0.5).astype(int), average="macro", zero_division=0))
    assert got["auc"] == pytest.approx(roc_auc_score(y, proba, average="macro"))
    assert np.isnan(evaluate_predictions(np.zeros(5), np.linspace(0, 1, 5), "binary")["auc"])


def test_onehot_multiclass_auc_is_restrepos_hard_prediction_auc():
    """``auc="onehot"``: the authors' multiclass AUC, roc_auc_score(onehot(y), onehot(argmax), average=None), nanmean."""
    from sklearn.metrics import roc_auc_score

    from gapkit.train import evaluate_predictions

    # a known case by hand: 3 classes, 6 rows; predictions 0,0,1,1,2,0 for truths 0,0,1,2,2,1
    y = np.array([0, 0, 1, 2, 2, 1])
    proba = np.eye(3)[[0, 0, 1, 1, 2, 0]] * 0.6 + 0.4 / 3
    # class 0: TPR 2/2, FPR 1/4 -> (1 + 3/4)/2; class 1: TPR 1/2, FPR 1/4 -> (1/2 + 3/4)/2; class 2: TPR 1/2, FPR 0
    by_hand = np.mean([(1 + 0.75) / 2, (0.5 + 0.75) / 2, (0.5 + 1) / 2])
    assert evaluate_predictions(y, proba, "multiclass", auc="onehot")["auc"] == pytest.approx(by_hand)
    # against sklearn on a random case in which one class is never predicted and one never occurs
    rng = np.random.default_rng(1)
    n, k = 300, 5
    y = rng.choice([0, 1, 2, 4], n)  # class 3 absent from y_true: left out of the mean, as nanmean does
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    logits[:, 1] -= 6  # class 1 never predicted: its one-hot AUC is 0.5
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    onehot = np.eye(k)[proba.argmax(1)]
    present = [c for c in range(k) if 0 < np.sum(y == c) < n]
    ref = np.mean(roc_auc_score(np.eye(k)[y][:, present], onehot[:, present], average=None))
    got = evaluate_predictions(y, proba, "multiclass", auc="onehot")
    assert got["auc"] == pytest.approx(ref)
    assert got["auc"] < evaluate_predictions(y, proba, "multiclass")["auc"]  # hard predictions lose the ranking
    # accuracy and F1 do not depend on the option; binary and multilabel AUCs stay from probabilities
    assert {m: got[m] for m in ("accuracy", "f1_macro")} == {
        m: v for m, v in evaluate_predictions(y, proba, "multiclass").items() if m != "auc"}
    yb, pb = rng.integers(0, 2, 50), rng.random(50)
    assert evaluate_predictions(yb, pb, "binary", auc="onehot") == evaluate_predictions(yb, pb, "binary")
    with pytest.raises(ValueError, match="auc='hard' is not valid.*'onehot'"):
        evaluate_predictions(yb, pb, "binary", auc="hard")


def test_sweep_lambda_scores_a_onehot_auc_when_asked():
    from gapkit.train import sweep_lambda, train_head

    rng = np.random.default_rng(0)
    n, d = 240, 6
    y = rng.integers(0, 3, n)
    v = rng.normal(size=(n, d)) + np.eye(d)[y] * 2
    t = rng.normal(size=(n, d)) + np.eye(d)[y + 3]
    kw = dict(lams=[0.0, 1.0], seeds=(42,), device="cpu", progress=False, max_epochs=5)
    soft = sweep_lambda(v, t, y, **kw).per_seed("auc")
    hard = sweep_lambda(v, t, y, auc="onehot", **kw).per_seed("auc")
    assert (hard.to_numpy() < soft.to_numpy()).all()
    X = np.hstack([t, v])
    a = train_head(X[:200], y[:200], X[200:], y[200:], device="cpu", max_epochs=5, auc="onehot")
    b = train_head(X[:200], y[:200], X[200:], y[200:], device="cpu", max_epochs=5)
    assert a["accuracy"] == b["accuracy"] and a["auc"] < b["auc"]
    with pytest.raises(ValueError, match="auc"):
        sweep_lambda(v, t, y, auc="soft", **kw)


@pytest.mark.parametrize("fused", [True, False])
def test_adamw_update_matches_torch_optim(fused):
    """The sweep's one-call AdamW (fused kernel or _foreach fallback) == torch.optim.AdamW, step by step,
    including a gradient whose memory layout differs from its parameter's (what autograd returns through
    the first layer's einsum, which the fused kernel would misread without a contiguous copy)."""
    from gapkit.train import _adamw_update

    gen = torch.Generator().manual_seed(0)
    ref = [torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64), torch.randn(3, 4, generator=gen,
                                                                                   dtype=torch.float64)]
    ours = [p.clone() for p in ref]
    opt = torch.optim.AdamW(ref, lr=3e-3, weight_decay=0.01)
    m, v = [torch.zeros_like(p) for p in ours], [torch.zeros_like(p) for p in ours]
    steps = [torch.zeros((), dtype=torch.float32) for _ in ours]
    for _ in range(4):
        grads = [torch.randn(3, 2, 4, 5, generator=gen, dtype=torch.float64).transpose(0, 1),  # permuted strides
                 torch.randn(3, 4, generator=gen, dtype=torch.float64)]
        assert not grads[0].is_contiguous()
        for p, g in zip(ref, grads):
            p.grad = g.clone()
        opt.step()
        assert _adamw_update(ours, grads, m, v, steps, lr=3e-3, weight_decay=0.01, fused=fused) == fused
        for a, b in zip(ours, ref):
            torch.testing.assert_close(a, b, atol=1e-14, rtol=1e-12)


# ---------------------------------------------------------------- issue 17: the fast batched sweep


def _spy_take(monkeypatch):
    """Record the (seeds, λ) shape of every working set the batched sweep shrinks to."""
    from gapkit.train import _BatchedHeads

    shapes = []
    orig = _BatchedHeads.take

    def take(self, seeds, lams, *others):
        shapes.append(tuple(lams.shape))
        return orig(self, seeds, lams, *others)

    monkeypatch.setattr(_BatchedHeads, "take", take)
    return shapes


@pytest.mark.parametrize("head", ["linear", "mlp"])
def test_stopped_heads_leave_the_working_set(monkeypatch, head):
    # weak signal, high lr, patience 2: heads stop at different epochs; a seed whose heads all stopped
    # leaves the batch and the λ axis shrinks to the widest seed, and every head's numbers stay those of
    # training it alone
    shapes = _spy_take(monkeypatch)
    img, txt, y = labelled_pairs(n=300, d=24, signal=0.3, seed=3)
    kw = dict(lams=[0.0, 0.25, 0.5, 0.75, 1.0], seeds=(42, 43, 44), head=head, device="cpu", max_epochs=100,
              batch_size=64, lr=3e-2, patience=2, progress=False, dtype="float64")
    res = sweep_lambda(img, txt, y, **kw)
    assert res.training.epochs.nunique() > 2 and (res.training.epochs < 100).all()
    assert shapes, "no head ever left the working set"
    assert all(s <= 3 and l <= 5 for s, l in shapes) and (min(s for s, _ in shapes) < 3 or
                                                           min(l for _, l in shapes) < 5)
    assert shapes == sorted(shapes, key=lambda sl: sl[0] * sl[1], reverse=True)   # it only ever shrinks
    ref = sweep_lambda(img, txt, y, batched=False, **kw)
    pd.testing.assert_frame_equal(res.table, ref.table, atol=1e-9, rtol=0)
    pd.testing.assert_frame_equal(res.training, ref.training, atol=1e-9, rtol=0)


def test_thread_choice_gives_the_same_numbers_and_restores_the_callers_setting(monkeypatch):
    import gapkit.train as T

    img, txt, y = labelled_pairs(n=400, d=16)
    kw = dict(lams=[0.0, 0.5, 1.0], seeds=(42, 43), device="cpu", max_epochs=8, batch_size=32, progress=False)
    one = sweep_lambda(img, txt, y, **kw)                  # the fixture runs tests on one thread: nothing to choose
    torch.set_num_threads(2)
    used = []
    orig = T._ThreadChoice.before

    def before(self, full_batch):
        orig(self, full_batch)
        used.append(T._MM_THREADS)

    monkeypatch.setattr(T._ThreadChoice, "before", before)
    two = sweep_lambda(img, txt, y, **kw)
    assert torch.get_num_threads() == 2                    # the caller's setting is back
    assert T._MM_THREADS is None
    assert set(used) == {1, 2}                             # both counts were tried
    pd.testing.assert_frame_equal(two.table, one.table, atol=1e-6, rtol=0)
    pd.testing.assert_frame_equal(two.training, one.training)
    # a failing sweep restores it too
    with pytest.raises(ValueError):
        sweep_lambda(img, txt, y[:-1], **kw)
    assert torch.get_num_threads() == 2


def test_thread_choice_follows_the_step_times():
    from gapkit.train import _ThreadChoice

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        tc = _ThreadChoice(torch.device("cpu"), explore=20.0, window=3)
        assert torch.get_num_threads() == 1                # everything but products and gathers: one thread
        fake = {1: 3e-3, 2: 1e-3}                           # two threads three times faster ...
        picks = []
        for step in range(160):
            if step == 100:
                fake = {1: 3e-3, 2: 30e-3}                  # ... until the machine gets busy
            tc.before(True)
            k = tc.timing
            picks.append(k)
            tc.t0 -= fake[k]                                # pretend the step took fake[k] seconds
            tc.after()
        assert picks[:4] == [1, 1, 2, 2]                    # a warm-up and a timed step on each count
        # the faster count wins; the other is retried once 20x its step time has passed (0.06 s = 60 steps)
        assert picks[4:100].count(1) == 1
        assert picks[104:] == [1] * 56                      # the choice follows the change within three steps
        tc.restore()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_cuda_matches_cpu_linear_with_early_stopping(task):
    img, txt, y = labelled_pairs(n=300, d=24, signal=0.3, seed=3, task=task)
    kw = dict(lams=[0.0, 0.5, 1.0], seeds=(42, 43), head="linear", dtype="float64", max_epochs=60, batch_size=64,
              lr=3e-2, patience=2, progress=False)
    gpu = sweep_lambda(img, txt, y, device="cuda", **kw)
    cpu = sweep_lambda(img, txt, y, device="cpu", **kw)
    assert gpu.device.startswith("cuda")
    pd.testing.assert_frame_equal(gpu.table, cpu.table, atol=1e-6, rtol=0)
    pd.testing.assert_frame_equal(gpu.training, cpu.training, atol=1e-6, rtol=0)
