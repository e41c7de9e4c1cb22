"""Supervised early-fusion heads and λ sweeps: the protocol of Restrepo et al. (2026) (chapter 6).

The protocol of the authors' public code (see ``shared/background.md``), with
three differences listed under *Where we differ* below:

- features: early fusion ``concat[text′, image′]`` of λ-shifted, unit-norm embeddings;
- head: ``"linear"`` (one ``Linear`` layer, the paper's reported setting) or
  ``"mlp"`` (``Linear → ReLU → Linear`` with 128 hidden units);
- AdamW (lr 3e-4, PyTorch's default weight decay 0.01, betas (0.9, 0.999)),
  batch 512, at most 100 epochs, early stopping on validation loss with
  patience 10 (validation = a seeded 10 % of the training split, stratified by
  default; ``stratify_validation=False`` draws it at random, as the authors do);
  the weights of the best validation epoch are restored before testing;
- class-balanced losses: binary → ``BCEWithLogits`` with
  ``pos_weight = n_neg / n_pos``; multiclass → cross-entropy weighted by
  inverse frequency ``n / (K · n_k)``; multilabel → BCE with per-label
  ``pos_weight``. Weights are counted on the rows the head is fitted on;
- metrics on the held-out test split: accuracy, macro-F1 and AUC computed from
  *probabilities* (the authors' multiclass AUC used hard one-hot predictions;
  we do not). Multiclass AUC is one-vs-rest, unweighted mean over classes;
  multilabel AUC is the mean per-label AUC; classes or labels with only one
  value in the test split are skipped. **Multilabel accuracy is the mean
  per-label accuracy** (1 − Hamming loss), not exact-match accuracy.

Splits. Every seed in ``seeds`` gets its own stratified 80/20 split (seeded by
that seed), its own validation split, initialisation and minibatch order: the
natural reading of "5 runs with seeds 42–46". Pass ``split_seed=42`` to keep
one outer split for every run instead (the literal reading of "split with seed
42"). Pass ``split_column=`` (one "train"/"test" entry per row) for a fixed outer
split, the same for every run, as the authors' code reads from its data files. Δ
is fitted on the training split only; ``transductive=True`` fits it on the whole
data set, as the authors' code does.

Where we differ from the authors' protocol (and how to get theirs):

- **Validation split.** Theirs is a random 10 % of the training split; ours is
  stratified by default, so that rare classes appear in it (a random 10 % of a
  small split can miss a class, and early stopping then watches a loss that
  ignores it). ``stratify_validation=False`` gives theirs.
- **Outer split.** Theirs is a fixed split column of the data set, the same for
  every run; ours is a stratified 80/20 split drawn per seed (``split_seed=``
  fixes one drawn split for all runs). ``split_column=`` gives theirs.
- **Multilabel loss weights.** Theirs weights each label by ``n / (K · n_k)``
  (``n_k`` positives of label ``k`` among ``n`` rows, ``K`` labels), the
  multiclass inverse-frequency recipe applied per label; ours uses BCE with a
  per-label ``pos_weight = (n − n_k) / n_k``, which balances positives against
  negatives within each label. Not offered as an option: the book's data sets
  are binary or multiclass, where our losses are exactly theirs.

Two implementations of the same protocol:

- :func:`train_head` trains one head with a plain PyTorch loop
  (``nn.Sequential`` + ``torch.optim.AdamW``). It is the reference.
- :func:`sweep_lambda` trains *every* (λ, seed) head of a sweep at once as one
  batched model. Parameters are stacked along (seed, λ) axes; each step runs
  one ``torch.bmm`` over (modality, seed) per layer and direction. The λ-shift is folded
  into the first layer, ``W·normalise(x̂ + cΔ) = (W·x̂ + c·W·Δ) / ‖x̂ + cΔ‖``, so
  the shifted features are never materialised per head and all λ of a seed
  share one minibatch read. The loss is the sum over heads of each head's own
  mean loss and AdamW runs elementwise, so every head follows exactly the
  trajectory it would follow alone (same init, same batches, same updates) up
  to floating-point rounding (float64: identical to ~1e-12; float32: metrics
  within ~1e-6 in the benchmark). Heads that early-stop keep their
  best-validation snapshot, which is what they are scored with, and leave the
  working set: a seed whose heads have all stopped drops out of the batch, and
  the λ axis shrinks to the largest number of heads a seed still trains (the
  slots of a seed with fewer repeat one of its heads, masked). The
  normalisation factors ``1/‖x̂ + cΔ‖`` depend only on the data, Δ and λ, so
  they are computed once per row before training and laid out once per epoch in
  minibatch order, with the labels; the unit rows are held once per modality
  (shared by all seeds), and a training step is a handful of kernels: one
  gather of the seeds' minibatch rows into a reused buffer, one batched matmul
  over (modality, seed) per direction, the loss gradient, one fused AdamW
  update. The linear head uses closed-form gradients (tested against autograd); the
  MLP uses autograd. ``batched=False`` runs the same sweep through
  :func:`train_head`, one head at a time.

Speed notes: the batched sweep is GPU-friendly (``device="cuda"``). On a CPU it
runs everything on one thread except the matmuls and the gather, which use the
faster of one thread and the caller's ``torch.get_num_threads()``, measured
during the sweep (on a machine shared with other jobs, threads that wait for
each other can make a step ten times slower); the caller's setting is restored.
A step costs the same matrix products as all its heads' steps one at a time
(``4·S·L·d·B`` multiply-adds for the linear head), so the speed-up over
``batched=False`` is bounded by how slow the one-head loop is per step, not by
the batched code: ``benchmarks/bench_sweep.py`` times both paths.
"""

from __future__ import annotations

from .._live import live_state

# The code lives in one private module per idea; each imports only from lower ones (and from other gapkit
# modules), never from this package:
#
#   _params    constants (METRICS, AdamW's betas/eps, ...) and declarative parameter constraints
#   _device    resolve_device, _torch_dtype
#   _metrics   AUC, F1, evaluate_predictions
#   _tasks     task inference, label encoding, stratified and fixed splits, class weights
#   _head      initial weights, the reference criterion, train_head (the one-head reference)
#   _result    SweepResult
#   _threads   the sweep's CPU threads: _MM_THREADS, _on_mm_threads, _bmm, _ThreadChoice
#   _batched   _BatchedHeads (stacked heads, closed-form linear gradients), slot indexing, ρ, batched loss
#   _adamw     the one-call AdamW update of the stacked parameters
#   _fit       the batched training loop: early stopping, the shrinking working set
#   _sweep     sweep_lambda and the geometry of the shifted training embeddings
#
# Everything is re-exported here, private helpers included. _MM_THREADS is state that _threads sets while
# a sweep runs: it is read from gapkit.train._threads at call time (patch it there, not here), and
# gapkit.train._MM_THREADS reads it from there, live.

from .._extras import require_models

require_models("gapkit.train (train_head, sweep_lambda)")  # the heads are torch modules: name the extra

from . import _threads  # noqa: E402
from ._adamw import _adamw_update  # noqa: F401
from ._batched import _AXES, _BatchedHeads, _batched_loss, _inv_norms, _slot_index  # noqa: F401
from ._device import _torch_dtype, resolve_device  # noqa: F401
from ._fit import _shrink_working, _sweep_batched, _sweep_batched_body  # noqa: F401
from ._head import _init_params, _reference_criterion, train_head  # noqa: F401
from ._metrics import _auc, _f1, evaluate_predictions  # noqa: F401
from ._params import (_BETAS, _CHUNK, _DEFAULT_LAMS, _EPS, _FRACTION, _HEADS, _POS_INT, _PROTOCOL,  # noqa: F401
                      _TASKS, METRICS)
from ._result import SweepResult  # noqa: F401
from ._sweep import _shifted_centroids, sweep_lambda  # noqa: F401
from ._tasks import (_check_test_classes, _class_weights, _encode, _fixed_split, _strat_key,  # noqa: F401
                     infer_task, split_indices)
from ._threads import _bmm, _median, _on_mm_threads, _ThreadChoice  # noqa: F401

__all__ = [
    "train_head",
    "sweep_lambda",
    "SweepResult",
    "infer_task",
    "split_indices",
    "evaluate_predictions",
    "resolve_device",
    "METRICS",
]


# _MM_THREADS is state that _threads._ThreadChoice sets while a sweep runs: read it there, live
__getattr__, __dir__ = live_state(__name__, globals(), {"_MM_THREADS": _threads})
