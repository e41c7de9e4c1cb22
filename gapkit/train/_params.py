"""Constants and declarative parameter constraints shared by :func:`train_head` and :func:`sweep_lambda`
(checked by :func:`gapkit._validation.validate_params`)."""

from __future__ import annotations

import numpy as np

from .._validation import Integral, Interval, Options, Real

#: Metric names, in the order they appear in result tables.
METRICS: tuple[str, ...] = ("accuracy", "f1_macro", "auc")
_TASKS = ("binary", "multiclass", "multilabel")
_HEADS = ("linear", "mlp")
_DEFAULT_LAMS = np.round(np.arange(0, 1.01, 0.1), 1)
_BETAS = (0.9, 0.999)
_EPS = 1e-8
_CHUNK = 8192  # rows per forward pass when evaluating

# declarative parameter constraints (gapkit._validation.validate_params), shared by train_head and sweep_lambda
_POS_INT = [Interval(Integral, 1, None, closed="left")]
_FRACTION = [Interval(Real, 0, 1, closed="neither")]
_PROTOCOL = {
    "head": [Options(*_HEADS)],
    "task": [None, Options(*_TASKS)],
    "hidden": _POS_INT,
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "batch_size": _POS_INT,
    "max_epochs": _POS_INT,
    "patience": _POS_INT,
    "val_size": _FRACTION,
    "stratify_validation": ["boolean"],
    "progress": ["boolean"],
    "auc": [Options("proba", "onehot")],
}
